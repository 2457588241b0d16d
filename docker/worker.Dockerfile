# The darkroom worker: the SQS loop, the models and their weights, on CUDA PyTorch.
#   docker build -f docker/worker.Dockerfile -t darkroom-worker .
# The base image's torch must be the version pyproject.toml pins (tests/deploy checks),
# so installing the worker extra keeps it instead of pulling another multi-GB wheel.
# Without a GPU the same image runs on the CPU (DARKROOM_DEVICE=auto picks).
# Two entry points, one image: the default (last) stage is the EC2 worker's loop; the `lambda` stage
# runs the same code as an AWS Lambda function (docker build --target lambda), worker/function.py.
FROM pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime AS image
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    DARKROOM_MODEL_CACHE=/home/darkroom/.cache/darkroom/models
RUN useradd --system --uid 10001 --create-home darkroom
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so a code change rebuilds only the last layers.
COPY pyproject.toml README.md ./
# versions are pinned in pyproject.toml (torch exactly), not here
# hadolint ignore=DL3013
RUN mkdir -p jobs pool api worker darkroom \
    && touch jobs/__init__.py pool/__init__.py api/__init__.py worker/__init__.py darkroom/__init__.py \
    && pip install --no-cache-dir ".[worker]" \
    && pip uninstall --yes darkroom \
    && rm -rf jobs pool api worker darkroom build ./*.egg-info
COPY jobs/ jobs/
COPY worker/ worker/
# the weights ship inside the package (worker/models/*.safetensors): on the AMI they are on local disk
RUN pip install --no-cache-dir --no-deps . && rm -rf build ./*.egg-info \
    && python -c "import worker.models, pathlib; assert any(pathlib.Path(worker.models.__file__).parent.glob('*.safetensors'))"
USER 10001:10001

# The Lambda tier: awslambdaric talks to the Runtime API; importing worker.lambda_handler is the init
# phase (the model is loaded once per execution environment). Only /tmp is writable on Lambda.
FROM image AS lambda
USER 0
RUN pip install --no-cache-dir awslambdaric==4.2.2
ENV DARKROOM_MODEL_CACHE=/tmp/darkroom/models
USER 10001:10001
HEALTHCHECK NONE
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["worker.lambda_handler.handler"]

# The EC2 worker (the default target): long-polls the queue on a spot instance.
FROM image AS worker
USER 10001:10001
# healthy while the worker process runs; its progress is in its S3 record (workers/{instance}.json)
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import pathlib, sys; sys.exit(b'worker' not in pathlib.Path('/proc/1/cmdline').read_bytes())"]
ENTRYPOINT ["python", "-m", "worker"]
