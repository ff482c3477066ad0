# Image branch: FFHQ reals, StyleGAN2-ADA fakes (one job per block of seeds, in the
# stylegan2-ada container) and the manifest of both, from config sections `ffhq` and
# `stylegan` (see src/unrender/schema.yaml). The rules exist for every dataset kind and run only
# for kind ffhq-stylegan, whose raw_manifest() is their manifest. Manifest paths of this
# branch are relative to the working directory (IMAGE_ROOT), so the fakes under results/
# and an FFHQ folder inside the working directory (e.g. data/ffhq) both fit; an FFHQ folder
# elsewhere needs dataset.allow_outside_root (its rows are then absolute) and a container
# bind.

from unrender.generate.seeds import parse_seeds, seed_blocks

IMAGE_ROOT = "."
STYLEGAN_BLOCKS = seed_blocks(
    parse_seeds(config["stylegan"]["seeds"]), config["stylegan"]["seeds_per_job"]
)


wildcard_constraints:
    block=r"b\d{4}\d*",  # {4,} would not parse: Snakemake takes {m} or {m,n} only


rule stylegan_generate:
    input:
        network=stylegan_network,
    output:
        manifest=f"{IMAGE_DATASET}/manifests/stylegan/{{block}}.tsv",
    log:
        f"{OUT}/logs/stylegan_generate/{{block}}.log",
    benchmark:
        f"{OUT}/benchmarks/stylegan_generate/{{block}}.tsv"
    params:
        seeds=lambda wildcards: STYLEGAN_BLOCKS[wildcards.block],
        outdir=f"{IMAGE_DATASET}/stylegan",
        root=IMAGE_ROOT,
        truncation_psi=config["stylegan"]["truncation_psi"],
        class_idx=config["stylegan"]["class_idx"],
        batch_size=config["stylegan"]["batch_size"],
        device=config["stylegan"]["device"],
        network_sha256=config["stylegan"]["network_sha256"],
    threads: 2
    resources:
        **gpu_resources(config["stylegan"]["device"]),
    container:
        config["containers"]["stylegan2_ada"]
    script:
        "../scripts/generate_fakes.py"


rule ffhq_manifest:
    output:
        manifest=f"{IMAGE_DATASET}/manifests/ffhq.tsv",
    log:
        f"{OUT}/logs/ffhq_manifest.log",
    benchmark:
        f"{OUT}/benchmarks/ffhq_manifest.tsv"
    params:
        root=config["ffhq"]["root"],
        image_count=config["ffhq"]["count"],
        missing=config["ffhq"]["missing"],
        dataset_root=IMAGE_ROOT,
        allow_outside_root=config["dataset"]["allow_outside_root"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/ffhq_manifest.py"


rule image_manifest:
    input:
        reals=f"{IMAGE_DATASET}/manifests/ffhq.tsv",
        fakes=expand(
            f"{IMAGE_DATASET}/manifests/stylegan/{{block}}.tsv", block=STYLEGAN_BLOCKS
        ),
    output:
        manifest=f"{IMAGE_DATASET}/manifest.tsv",
    log:
        f"{OUT}/logs/image_manifest.log",
    benchmark:
        f"{OUT}/benchmarks/image_manifest.tsv"
    container:
        config["containers"]["torch"]
    script:
        "../scripts/image_manifest.py"
