#!/usr/bin/env bash
# Leave nothing of the build behind: registry credentials, logs, cloud-init state (so each
# instance runs its own user data), and no worker.env (each instance gets its own).
set -euo pipefail
rm -f /root/.docker/config.json /etc/darkroom/worker.env
rm -rf /tmp/darkroom
cloud-init clean --logs
journalctl --rotate && journalctl --vacuum-time=1s
