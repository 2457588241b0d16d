#!/usr/bin/env bash
# Run the worker's start-up once on this GPU: load the weights, one warm-up inference. It
# proves the image works on the GPU before the AMI is registered, fills the CUDA JIT cache
# that instances reuse, and records which files start-up reads (their access times move
# past a marker) into the list the pre-read service reads at boot.
set -euo pipefail
# shellcheck disable=SC1091
source /etc/darkroom/image.env
marker=$(mktemp)
sleep 1  # access times after the marker's modification time are start-up's
started=$(date +%s.%N)
docker run --rm --pull never --gpus all --network none \
    --env DARKROOM_DEVICE=cuda \
    --volume /opt/darkroom/models:/models:ro \
    --volume /var/cache/darkroom/nv:/home/darkroom/.nv \
    --entrypoint python "$WORKER_IMAGE" -c "
import time
from pathlib import Path
from worker.methods import ModelChoice, load_enhancer
from worker.startup import warm_up
choice = ModelChoice(raw_model='/models/sid-raw.safetensors',
                     srgb_model='/models/sid-srgb.safetensors', device='cuda')
loaded = time.perf_counter()
enhancer = load_enhancer(choice, None)
print(f'weights loaded in {time.perf_counter() - loaded:.2f} s; warm-up {warm_up(enhancer):.2f} s')
"
echo "warm-up: container start to warm: $(awk -v t0="$started" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }') s"
find /var/lib/docker /opt/darkroom /usr/lib /usr/bin /usr/local -xdev -type f -anewer "$marker" \
    > /etc/darkroom/preread.list 2> /dev/null || true
rm -f "$marker"
echo "pre-read list: $(wc -l < /etc/darkroom/preread.list) files, $(tr '\n' '\0' < /etc/darkroom/preread.list \
    | du -ch --files0-from=- 2> /dev/null | tail -1 | cut -f1)"
