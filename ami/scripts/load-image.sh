#!/usr/bin/env bash
# Pull the worker image into the AMI's Docker store (instances never pull at boot) and put
# the weights on the root volume, where the unit mounts them read-only into the container.
set -euo pipefail
: "${WORKER_IMAGE:?WORKER_IMAGE is required}" "${AWS_REGION:?AWS_REGION is required}"
registry="${WORKER_IMAGE%%/*}"
if [[ "$registry" == *.dkr.ecr.*.amazonaws.com ]]; then
    aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$registry"
fi
docker pull "$WORKER_IMAGE"
echo "WORKER_IMAGE=${WORKER_IMAGE}" > /etc/darkroom/image.env
container=$(docker create "$WORKER_IMAGE")
package=$(docker run --rm --entrypoint python "$WORKER_IMAGE" -c \
    "import pathlib, worker.models; print(pathlib.Path(worker.models.__file__).parent)")
docker cp "${container}:${package}/sid-raw.safetensors" /opt/darkroom/models/
docker cp "${container}:${package}/sid-srgb.safetensors" /opt/darkroom/models/
docker rm "$container" > /dev/null
chmod 0644 /opt/darkroom/models/*.safetensors
ls -l /opt/darkroom/models
