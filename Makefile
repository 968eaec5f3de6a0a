# clickpy: `make run` and `make test` work on a fresh Debian machine (root, Python 3.11, gcc).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= configs/router.click
ifeq ($(CONFIG),configs/router.click)
# the IPv4 router on its bundled traces; what it sends lands in out/
RUN_ARGS ?= OUT=out/router -t -h ipcheck.drop_details -h arpq0.table -h arpq1.table -h pool_free
else
RUN_ARGS ?= -t -h c.count -h c.byte_count -h pool_free
endif
export CLICKPY_BUILD_JOBS := $(JOBS)

.PHONY: all run test test-release test-debug bench dev build build-debug deps install clean

all: dev

# System packages (iproute2, tcpdump, graphviz, qemu, kernel sources, ...).
deps: .deps.stamp
.deps.stamp: scripts/install-deps.sh
	sh scripts/install-deps.sh
	@touch $@

# The virtualenv with every Python dependency from pyproject.toml, and clickpy
# itself installed in editable mode (so `.venv/bin/clickpy` runs this tree).
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml setup.py .deps.stamp
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=64" wheel "Cython>=3.0"
	CLICKPY_METADATA_ONLY=1 $(PY) -m pip install -q --no-build-isolation --config-settings editable_mode=compat -e ".[test]"
	@touch $@

# Optimized build in place (incremental); build-debug: bounds checks and buffer-owner tracking.
# compileall: the bytecode an installed clickpy has, so that start-up does not compile
# every module (this environment sets PYTHONDONTWRITEBYTECODE).
build dev: install
	$(PY) setup.py -q build_ext --inplace -j $(JOBS)
	$(PY) -m compileall -q clickpy elements

build-debug: install
	CLICKPY_DEBUG=1 $(PY) setup.py -q build_ext --inplace -j $(JOBS)

run: build
	@mkdir -p out
	$(VENV)/bin/clickpy run $(CONFIG) $(RUN_ARGS)

test: test-release test-debug
	$(MAKE) --no-print-directory build

test-release: build
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-debug: build-debug
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: build
	$(PY) bench/report.py $(BENCH_ARGS)
	$(PY) bench/bench_iproute.py
	$(PY) bench/bench_pcap.py
	$(PY) bench/devices.py $(DEVICE_BENCH_ARGS)
	$(PY) bench/appliance_bench.py

clean:
	rm -rf build $(VENV) .deps.stamp *.egg-info
	find clickpy elements -name '*.so' -delete
	rm -f clickpy/_build.py clickpy/_element_index.py
