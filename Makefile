# sdgcube: `make install`, then `make test`; `make indicator SDG=15.1.1` runs offline on the demo catalog.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SDG ?= 15.1.1
CATALOG ?=
ARGS ?=

.PHONY: install test bench indicator demo-catalog samples clean help

help:
	@echo "make install                 venv + everything the project needs"
	@echo "make test                    the test suite (builds the demo catalog in a temp dir)"
	@echo "make indicator SDG=15.1.1    run recipes/\$$SDG.yaml on the demo catalog (or CATALOG=URL|PATH)"
	@echo "make demo-catalog            (re)build the embedded demo catalog in catalog/demo/data"
	@echo "make bench                   kernel benchmarks vs memory bandwidth and peers -> outputs/bench/"
	@echo "make samples                 real Debian-packaged scenes as a STAC catalog in catalog/samples/data"

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) -c "import pipeline, catalog, kernels; print('sdgcube installed in $(VENV)')"

test:
	$(PY) -m pytest -q

bench:
	$(PY) -m tests.benchmarks.bench --out outputs/bench

demo-catalog:
	$(PY) -m catalog.demo --force

samples:
	$(PY) -m catalog.samples

indicator:
	@test -f recipes/$(SDG).yaml || { echo "no recipe recipes/$(SDG).yaml; available: $$(ls recipes | sed 's/.yaml//' | tr '\n' ' ')"; exit 2; }
	$(PY) -m pipeline run recipes/$(SDG).yaml $(if $(CATALOG),--catalog $(CATALOG)) $(ARGS)

clean:
	rm -rf outputs catalog/demo/data catalog/samples/data .pytest_cache
