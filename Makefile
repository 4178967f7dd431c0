# sdgcube: `make install`, then `make test`; `make indicator SDG=15.1.1` runs offline on the demo catalog.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAC_PORT ?= 8080
SDG ?= 15.1.1
CATALOG ?=
ARGS ?=
RUN ?=
DEST ?= outputs/published

.PHONY: install test lint bench bench-tile indicator indicators demo-catalog samples stac-server notebooks publish clean help

help:
	@echo "make install                 venv + everything the project needs"
	@echo "make test                    the test suite (builds the demo catalog in a temp dir)"
	@echo "make lint                    ruff and mypy on pipeline, catalog, kernels (rules in pyproject.toml)"
	@echo "make indicator SDG=15.1.1    run recipes/\$$SDG.yaml on the demo catalog (or CATALOG=URL|PATH)"
	@echo "make indicators              all six recipes on the demo, per demo municipality, one summary line each"
	@echo "make publish SDG=15.1.1 [RUN=<run-id>] DEST=dir|s3://bucket/prefix   publish a product (default: the latest run) as a verified, never-overwritten version"
	@echo "make demo-catalog            (re)build the embedded demo catalog in catalog/demo/data"
	@echo "make bench                   kernel benchmarks vs memory bandwidth and peers -> outputs/bench/"
	@echo "make bench-tile [ARGS=...]   one full Sentinel-2 tile x 70 dates through 6.6.1 (decode, bare, workers) -> outputs/bench-tile/"
	@echo "make stac-server             serve the demo (or CATALOG=PATH) as a local STAC API (pgstac) on STAC_PORT=8080"
	@echo "make samples                 real Debian-packaged scenes as a STAC catalog in catalog/samples/data"
	@echo "make notebooks               JupyterLab on notebooks/ (explore a product, run a recipe from Python)"

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-15-postgis-3 postgresql-contrib chromium >/dev/null
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,stac,notebooks,lint]"
	$(PY) -c "import pipeline, catalog, kernels; print('sdgcube installed in $(VENV)')"

test:
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check pipeline catalog kernels
	$(PY) -m mypy

bench:
	$(PY) -m tests.benchmarks.bench --out outputs/bench

bench-tile:
	$(PY) -m tests.benchmarks.tile --out outputs/bench-tile $(ARGS)

publish:
	@run="$(RUN)"; [ -n "$$run" ] || run=$$(ls outputs/$(SDG) 2>/dev/null | grep -v '^\.' | sort | tail -1); \
	test -n "$$run" || { echo "no product in outputs/$(SDG): run 'make indicator SDG=$(SDG)' first"; exit 2; }; \
	$(PY) -m pipeline publish outputs/$(SDG)/$$run $(DEST) $(ARGS)

demo-catalog:
	$(PY) -m catalog.demo --force

stac-server:
	$(PY) -m catalog.stac_server --port $(STAC_PORT) $(if $(CATALOG),--catalog $(CATALOG))

notebooks:
	$(VENV)/bin/jupyter lab --notebook-dir=. notebooks/

samples:
	$(PY) -m catalog.samples

indicator:
	@test -f recipes/$(SDG).yaml || { echo "no recipe recipes/$(SDG).yaml; available: $$(ls recipes | sed 's/.yaml//' | tr '\n' ' ')"; exit 2; }
	$(PY) -m pipeline run recipes/$(SDG).yaml $(if $(CATALOG),--catalog $(CATALOG)) $(ARGS)

DEMO_ZONES := --zones catalog/demo/data/zones.gpkg --zone-id code --zone-name name
indicators:
	$(PY) -c "from catalog.demo import ensure_demo_catalog; ensure_demo_catalog()"
	$(PY) -m pipeline indicators $(if $(CATALOG),--catalog $(CATALOG),$(DEMO_ZONES)) $(ARGS)

clean:
	rm -rf outputs catalog/demo/data catalog/samples/data .pytest_cache
