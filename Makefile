# Beholder: `make run` starts the agent on this host, `make test` runs every test.
# Both set up what they need first (Debian packages, kernel header tree, .venv).

SHELL := /bin/bash
PY_SYS := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
HEADERS := /var/lib/beholder/kernel-headers
# What the agent needs (`make run`): bcc (compiler + Python module), Python's venv, generic
# kernel headers, and python3-dev + gcc to build the hot path as native code (mypyc). What
# only the tests and benchmarks need (`make test`, `make bench`): runc,
# busybox and mmdebstrap for real containers, prometheus for the rules/dashboards checks,
# kubectl for the manifests, tmux for the terminal tests, iproute2 and procps for workloads,
# libc6-dev to compile the C programs of KubeArmor's test image.
RUN_PACKAGES := python3-bpfcc bpfcc-tools python3-venv python3-dev gcc linux-headers-amd64
TEST_PACKAGES := runc busybox-static mmdebstrap prometheus kubectl tmux iproute2 procps libc6-dev
# The realistic workloads of bench/bench_workloads.py (`make bench` only).
BENCH_PACKAGES := postgresql nginx-light wrk
ARGS ?=
# What the pure-Python fallback of the native modules is tested with (`make test`, second run).
PURE_TESTS := tests/unit tests/otel_semconv tests/cli/test_otlp_file.py tests/otel_export/test_traces.py tests/policy

# The hot-path modules mypyc compiles (exporter/beholder/native.py lists them).
NATIVE_SOURCES := $(shell $(PY_SYS) -c 'import runpy; m = runpy.run_path("exporter/beholder/native.py"); \
                  print(*(m["source_path"](n).relative_to(m["_PACKAGE_DIR"].parent.parent) for n in m["MODULES"]))')

.PHONY: all setup deps test-deps headers venv native tracefs run test test-fast lint bench soak clean

all: test

setup: deps headers venv native tracefs

## Install the Debian packages of $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(RUN_PACKAGES))

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))

## One merged header tree (common + arch) that bcc compiles against; the host's own
## /lib/modules headers are never needed.
headers: deps
	@$(PY_SYS) -c 'import sys; sys.path.insert(0, "exporter"); \
	from beholder.sensors.kernel_headers import prepare; print("kernel headers:", prepare("$(HEADERS)"))'

## The venv uses Debian's Python so that Debian's bcc module (pure Python over libbcc) imports.
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | deps
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 'setuptools>=77'  # setup.py build_ext (make native) reads pyproject
	BEHOLDER_PURE_PYTHON=1 $(PY) -m pip install -q -e '.[test,bench]'  # `native` compiles, once
	ln -sfn /usr/lib/python3/dist-packages/bcc "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/bcc"
	touch $@

## Native code for the hot path (mypyc, from the same typed sources), rebuilt when one of them
## changes; BEHOLDER_PURE_PYTHON=1 keeps pure Python. See exporter/beholder/native.py.
native: $(VENV)/.native

$(VENV)/.native: setup.py exporter/beholder/native.py $(NATIVE_SOURCES) | $(VENV)/.installed
	@# --force: fresh files, never older than a source
	$(PY) setup.py -q build_ext --inplace --force >/dev/null \
		|| { echo "make native: mypyc failed (errors above); fix them or set BEHOLDER_PURE_PYTHON=1"; exit 1; }
	touch $@

## bcc reads tracepoint formats under debugfs; the agent also checks tracefs itself.
tracefs:
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
	@mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true

run: setup
	$(VENV)/bin/beholder run $(ARGS)

lint: venv
	$(VENV)/bin/ruff check exporter tests bench
	$(VENV)/bin/ruff format --check exporter tests bench

## Every test with the native modules, then the tests of those modules on the pure-Python fallback.
test: setup test-deps lint
	$(PY) -m pytest -q -p no:cacheprovider $(ARGS)
	BEHOLDER_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider $(PURE_TESTS)

bench: setup test-deps
	$(call apt_install,$(BENCH_PACKAGES))
	$(PY) bench/run_all.py

## Long reliability runs, not part of `make test`: 10 minutes at ~50k events/s, a 5-minute
## collector outage at 10k events/s, 10,000-case fuzzing (figures in docs/reliability.md).
soak: setup test-deps
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info exporter/*__mypyc*.so exporter/beholder/*/*.so
