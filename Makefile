# Two set-up commands for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: install lint demo test test-wheel test-browser test-slurm bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,damnit]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

# caches of this venv only (pint's, through EXtra, breaks when another env's is found)
demo: install
	XDG_CACHE_HOME=$(abspath $(VENV))/var/cache $(VENV)/bin/scs-nb demo --out demo

# the code's own hygiene: lint, format and the import layers of pyproject.toml
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: install lint
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -q --timeout 600

# the wheel as a user installs it: built, installed (not editable) into a fresh venv, and
# the import / template / compatibility / mnemonic tests run against it from outside the checkout
WHEEL_VENV := .venv-wheel
test-wheel: install
	rm -rf build/wheel $(WHEEL_VENV)
	$(PY) -m pip wheel -q --no-deps -w build/wheel .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install -q "$$(ls build/wheel/scs_nb-*.whl)[test]"
	$(WHEEL_VENV)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	cd build && SCS_NB_WHEEL=1 ../$(WHEEL_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	    --rootdir=.. -c ../pyproject.toml ../tests/test_installed.py \
	    ../tests/test_compat_layout.py ../tests/test_mnemonics_table.py

# the browser test alone: Debian's chromium must be installed (apt-get install chromium)
test-browser: install
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install -q -e '.[test,browser]'
	SCS_NB_REQUIRE_BROWSER=1 $(PY) -m pytest -q -m browser

# the SLURM tests alone, on a one-node cluster started here (root; apt installs slurm-wlm
# and munge if missing); `tests/slurm/start-cluster.sh stop` stops it
test-slurm: install
	tests/slurm/start-cluster.sh start
	SLURM_CONF=$${SLURM_CONF:-$${SCS_NB_SLURM_DIR:-/var/tmp/scs-nb-slurm}/slurm.conf} \
	    SCS_NB_REQUIRE_SLURM=1 $(PY) -m pytest -q -m slurm --timeout 600

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(WHEEL_VENV) build demo .pytest_cache
