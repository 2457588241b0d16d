# The darkroom API: Flask under uWSGI, no torch. Build from the repository root:
#   docker build -f docker/api.Dockerfile -t darkroom-api .
# Settings are DARKROOM_* variables (api/settings.py); credentials come from the
# task or instance role, never from the image.

# Wheels are built in a stage with a compiler (uWSGI has no wheel on PyPI);
# the runtime stage gets only the wheels.
FROM python:3.11.11-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change rebuilds only the last layers.
COPY pyproject.toml README.md ./
RUN mkdir -p jobs pool api worker darkroom \
    && touch jobs/__init__.py pool/__init__.py api/__init__.py worker/__init__.py darkroom/__init__.py \
    && pip wheel --no-cache-dir --wheel-dir /wheels ".[api]" \
    && rm /wheels/darkroom-*.whl

FROM python:3.11.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    DARKROOM_HTTP=0.0.0.0:8080 \
    DARKROOM_API_PROCESSES=4
RUN useradd --system --uid 10001 --create-home darkroom
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY pyproject.toml README.md ./
COPY jobs/ jobs/
COPY pool/ pool/
COPY api/ api/
RUN pip install --no-cache-dir --no-deps . && rm -rf build ./*.egg-info
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
CMD ["uwsgi", "--ini", "/app/api/uwsgi.ini"]
