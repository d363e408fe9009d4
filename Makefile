# physai: two commands set everything up on a fresh machine.
#   make demo   create .venv from the lock file, install, run the three double-descent demos
#   make test   lint (ruff) and the test suite (under 10 minutes on 2 cores)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PHYSAI := $(VENV)/bin/physai
STAMP := $(VENV)/.installed
DEMOS := double_descent.linear double_descent.random_features double_descent.mlp

.PHONY: install demo test reproduce reference bench gpu-check notebooks lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	# exit 1 means a verdict that is not supported (a finding, printed with its reason); 2 is an error
	for name in $(DEMOS); do $(PHYSAI) demo $$name; rc=$$?; [ $$rc -le 1 ] || exit $$rc; done

test: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile

# Paper presets: every hypothesis checked at the anchors' scale (minutes per experiment).
reproduce: $(STAMP)
	$(PY) -m pytest -q -m slow

# Small reference results (every paper preset + the double-descent demos), from scratch with a cold
# compilation cache, and the README table, the hypotheses page and the executed notebooks generated from them.
reference: $(STAMP)
	rm -rf results/reference/*/
	-PHYSAI_CACHE_DIR=$$(mktemp -d) $(PHYSAI) reproduce --preset paper --out results/reference \
		--backend processes --workers 2 --no-progress
	for name in $(DEMOS); do $(PHYSAI) demo $$name --out results/reference --backend processes \
		--workers 2 --no-progress || true; done
	# Committed: tables, verdicts, PNG figures, SUMMARY.md. Not committed (derived, and over the size budget):
	# the HTML reports, index.html and PDF figures; `physai report NAME --preset P --out results/reference` redraws them.
	find results/reference \( -name report.html -o -name index.html -o -name '*.pdf' \) -delete
	$(PY) -m analysis.readme
	$(PY) -m analysis.hypotheses
	$(PY) -m analysis.notebooks

# Engine vs a naive per-model PyTorch loop; needs the optional `bench` extra (CPU torch).
bench: $(STAMP)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) benchmarks/sweep_throughput.py
	$(PY) benchmarks/backend_scaling.py
	$(PY) benchmarks/suite.py

# On a machine with a GPU (and a CUDA build of jaxlib): the accelerator paths and models per minute.
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py

# The teaching notebooks in JupyterLab; needs the optional `notebooks` extra (installed here).
notebooks: $(STAMP)
	$(PY) -m pip install --quiet -e '.[notebooks]'
	$(VENV)/bin/jupyter lab notebooks/

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
