#!/usr/bin/env bash
# Install the worker's systemd units and the pre-read script. The Deep Learning Base GPU AMI
# already has the NVIDIA driver, Docker and the NVIDIA Container Toolkit: check, do not install.
set -euo pipefail
for tool in docker nvidia-smi nvidia-ctk aws; do
    command -v "$tool" > /dev/null || { echo "install.sh: $tool is missing from the base AMI" >&2; exit 1; }
done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
install -d -m 0755 /etc/darkroom /opt/darkroom/models /var/cache/darkroom/nv
chown 10001:10001 /var/cache/darkroom/nv  # the image's non-root user keeps its CUDA JIT cache here
install -m 0755 /tmp/darkroom/darkroom-preread /usr/local/bin/darkroom-preread
install -m 0755 /tmp/darkroom/darkroom-worker-run /usr/local/bin/darkroom-worker-run
install -m 0644 /tmp/darkroom/darkroom-worker.service /etc/systemd/system/darkroom-worker.service
install -m 0644 /tmp/darkroom/darkroom-preread.service /etc/systemd/system/darkroom-preread.service
systemctl daemon-reload
systemctl enable docker.service darkroom-preread.service darkroom-worker.service
