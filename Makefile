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
	$(BIN)/python bench/predict_latency.py
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

## test-containers: the frames and torch images built offline; the tiny workflow in them via
## --sdm=apptainer (tests/containers)
test-containers: install
	command -v dockerd >/dev/null && command -v debootstrap >/dev/null \
		|| { $(call apt_install,docker.io debootstrap); }
	UNRENDER_REQUIRE_CONTAINERS=1 timeout -k 30 2400 $(BIN)/python -m pytest tests/containers

## images: build the workflow images with docker (torch offline), else apptainer
# torch: its wheels are fetched on the host (pip: PyPI or a local mirror), so the image build
# itself needs no network; TORCH_BASE is any Debian 12 image with or without python3, e.g. a
# debootstrap'd one (containers/torch/README.md). It needs BuildKit: DOCKER=/usr/bin/docker
# (Debian's client) where the default client has no buildx.
# irn-tf1 and stylegan2-ada clone their upstream code while they build. Without GitHub,
# IRN_TF1_SOURCE / STYLEGAN2_ADA_SOURCE=<local git checkout> serves that checkout to the
# build (git daemon on 127.0.0.1; the build still checks out the pinned commit).
# `make images IMAGES=torch` builds one.
IMAGES     ?= torch irn-tf1 stylegan2-ada
IMAGE_TAG  ?= 0.1.0
DOCKER     ?= docker
TORCH_BASE ?= debian:bookworm-slim
IRN_TF1_SOURCE ?=
STYLEGAN2_ADA_SOURCE ?=
GIT_PORT   ?= 9418
# name -> build argument of its clone URL, local-checkout variable, upstream repository
UPSTREAM_irn-tf1       := IRN_REPO IRN_TF1_SOURCE YeeU/InverseRenderNet_v2
UPSTREAM_stylegan2-ada := STYLEGAN2_ADA_REPO STYLEGAN2_ADA_SOURCE NVlabs/stylegan2-ada-pytorch
images: install
	@if ! $(DOCKER) info >/dev/null 2>&1 && ! command -v apptainer >/dev/null; then \
		echo "make images: no running Docker engine and no apptainer; install one of them" >&2; \
		exit 1; \
	fi
	@for name in $(IMAGES); do \
		$(MAKE) --no-print-directory image-$$name || exit 1; \
	done

.PHONY: image-torch image-irn-tf1 image-stylegan2-ada
image-torch: install
	$(BIN)/python -m unrender.images torch build/torch --cache build/wheel-cache
	@if $(DOCKER) info >/dev/null 2>&1; then \
		echo "docker build unrender/torch:$(IMAGE_TAG) (base $(TORCH_BASE))"; \
		DOCKER_BUILDKIT=1 $(DOCKER) build --network=host -f containers/torch/Dockerfile \
			--build-arg BASE=$(TORCH_BASE) -t unrender/torch:$(IMAGE_TAG) build/torch; \
	else \
		mkdir -p images && cd build/torch \
		&& apptainer build --force ../../images/torch.sif ../../containers/torch/torch.def \
		&& echo "Set containers.torch: images/torch.sif in your config."; \
	fi

image-irn-tf1 image-stylegan2-ada: image-%:
	@set -- $(UPSTREAM_$*); arg=$$1; source_var=$$2; upstream=$$3; \
	source="$($(word 2,$(UPSTREAM_$*)))"; \
	echo "$*: needs the upstream code of github.com/$$upstream (cloned while building, at" \
		"the commit pinned in containers/$*/Dockerfile)"; \
	extra=""; daemon=""; \
	if [ -n "$$source" ]; then \
		test -d "$$source/.git" || { echo "$$source_var=$$source is not a git checkout" >&2; exit 1; }; \
		git daemon --export-all --reuseaddr --listen=127.0.0.1 --port=$(GIT_PORT) \
			--base-path="$$(dirname "$$(realpath "$$source")")" & daemon=$$!; sleep 1; \
		extra="--build-arg $$arg=git://127.0.0.1:$(GIT_PORT)/$$(basename "$$(realpath "$$source")")"; \
		echo "$*: cloning from the local checkout $$source"; \
	else \
		echo "$*: without access to GitHub, run make images $$source_var=<local checkout of $$upstream>"; \
	fi; \
	if $(DOCKER) info >/dev/null 2>&1; then \
		$(DOCKER) build --network=host -f containers/$*/Dockerfile $$extra \
			-t unrender/$*:$(IMAGE_TAG) .; \
	else \
		mkdir -p images && apptainer build --force images/$*.sif containers/$*/$*.def; \
	fi; status=$$?; \
	if [ -n "$$daemon" ]; then kill $$daemon; fi; \
	if [ $$status -ne 0 ]; then \
		echo "make images: $* failed; it needs github.com/$$upstream (or $$source_var=<checkout>)" \
			"and its base image (containers/$*/README.md)" >&2; \
	fi; exit $$status
