# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,tf]"
	touch $@

install: $(VENV)/.installed

## demo: run the whole graph on the embedded synthetic data (results/demo/)
demo: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --configfile config/demo.yaml
	$(BIN)/snakemake --profile profiles/default --configfile config/demo.yaml \
		--report results/demo/report.html
	@echo
	@echo "Done. Results are in results/demo/ ; read results/demo/summary.md first,"
	@echo "the HTML report is results/demo/report.html, refused inputs are in results/demo/rejected.tsv."

## test: unit tests and an end-to-end Snakemake run on a tiny config (in a temp dir)
test: install
	$(BIN)/python -m pytest

## lint: ruff, snakefmt and snakemake --lint
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile config/demo.yaml

## bench: the speed figures quoted in BENCHMARKS.md
bench: install
	$(BIN)/python bench/frame_extraction.py

clean:
	rm -rf results .snakemake
