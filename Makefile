# Every target creates the virtual environment it needs; running one twice does no work twice.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint bench clean clean-models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,all]'
	touch $@

# The main job: fetch MNIST, train the fast convolutional network (to 99 % in seconds; once: models/cnn-fast.npz is
# kept), evaluate it, and show one test digit. `make clean-models` (or deleting the file) trains afresh.
run: models/cnn-fast.npz
	$(BIN)/nnscratch evaluate models/cnn-fast.npz
	$(BIN)/nnscratch predict models/cnn-fast.npz --index 0

models/cnn-fast.npz: | $(VENV)/.installed
	$(BIN)/nnscratch data fetch mnist
	$(BIN)/nnscratch train --preset cnn-fast --out models/cnn-fast.npz

test: lint
	$(BIN)/python -m pytest -q

# The engine's own tests (layers, gradients, losses, optimizers, fit, the fast twins), the worked example and the
# architecture: under a minute.
ENGINE_TESTS := tests/engine tests/fast tests/docs/test_worked_example.py tests/docs/test_architecture.py
test-fast: lint
	$(BIN)/python -m pytest -q $(ENGINE_TESTS)

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench scripts

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_mlp.py
	$(BIN)/python bench/bench_cnn.py
	$(BIN)/python bench/bench_memory.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

clean-models:
	rm -f models/cnn-fast.npz models/cnn-fast.history.json
