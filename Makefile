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
	$(BIN)/python bench/dag_scale.py
	$(BIN)/python bench/face_detectors.py
	$(BIN)/python bench/train_throughput.py
	@echo "bench/irn_speed.py needs an upstream IRN++ checkout: see its --help"

clean:
	rm -rf results .snakemake

.PHONY: test-cluster test-containers images

# apt-get install, with one apt-get update if the package lists are stale or missing.
APT_INSTALL = DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends
apt_install = $(APT_INSTALL) $(1) || { timeout 300 apt-get update && $(APT_INSTALL) $(1); }

## test-cluster: the tiny run through profiles/slurm on a real single-node SLURM (root, apt)
test-cluster: install
	bash tests/cluster/slurm.sh install
	bash tests/cluster/slurm.sh start
	UNRENDER_REQUIRE_CLUSTER=1 timeout -k 30 2100 $(BIN)/python -m pytest tests/test_cluster.py; \
		status=$$?; bash tests/cluster/slurm.sh stop; exit $$status

## test-containers: a slim frames image built offline; extract_frames in it via --sdm=apptainer
test-containers: install
	command -v dockerd >/dev/null && command -v debootstrap >/dev/null \
		|| { $(call apt_install,docker.io debootstrap); }
	UNRENDER_REQUIRE_CONTAINERS=1 timeout -k 30 2400 $(BIN)/python -m pytest tests/containers

## images: build the three workflow images with docker, else apptainer (needs the network)
IMAGES    := torch irn-tf1 stylegan2-ada
IMAGE_TAG ?= 0.1.0
images:
	@if command -v docker >/dev/null && docker info >/dev/null 2>&1; then \
		for name in $(IMAGES); do \
			echo "docker build unrender/$$name:$(IMAGE_TAG)"; \
			docker build -f containers/$$name/Dockerfile -t unrender/$$name:$(IMAGE_TAG) . || exit 1; \
		done; \
	elif command -v apptainer >/dev/null; then \
		mkdir -p images; \
		for name in $(IMAGES); do \
			echo "apptainer build images/$$name.sif"; \
			apptainer build --force images/$$name.sif containers/$$name/$$name.def || exit 1; \
		done; \
		echo "Set containers.torch: images/torch.sif (and irn_tf1, stylegan2_ada) in your config."; \
	else \
		echo "make images: no running Docker engine and no apptainer; install one of them" >&2; \
		exit 1; \
	fi
