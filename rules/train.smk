# The run's one split, the packed training inputs, and one classifier per model of MODELS
# (rgb, each modality, ensemble_net); see src/unrender/train/.


wildcard_constraints:
    model="|".join(MODELS),
    part="|".join(PACK_PARTS),


rule split:
    input:
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
    output:
        splits=f"{OUT}/splits.tsv",
    log:
        f"{OUT}/logs/split.log",
    benchmark:
        f"{OUT}/benchmarks/split.tsv"
    params:
        split=config["train"]["split"],
        seed=config["seed"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/split.py"


# Derived from the PNGs, which stay the readable output: temp(), so the packs go once every
# training that reads them has finished.
rule pack:
    input:
        unpack(pack_sources),
    output:
        pack=temp(directory(f"{OUT}/packs/{{part}}/{{shard}}")),
    log:
        f"{OUT}/logs/pack/{{part}}/{{shard}}.log",
    benchmark:
        f"{OUT}/benchmarks/pack/{{part}}/{{shard}}.tsv"
    params:
        # The run folder: shards/ is one of its children.
        run_dir=lambda wildcards, input: str(Path(input.shard).parents[1]),
        image_size=config["train"]["image_size"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/pack.py"


rule train:
    input:
        splits=f"{OUT}/splits.tsv",
        packs=model_packs,
    output:
        weights=f"{OUT}/models/{{model}}/model.safetensors",
        meta=f"{OUT}/models/{{model}}/meta.json",
        predictions=f"{OUT}/predictions/{{model}}.tsv",
        tensorboard=directory(f"{OUT}/tensorboard/{{model}}"),
    log:
        f"{OUT}/logs/train/{{model}}.log",
    benchmark:
        f"{OUT}/benchmarks/train/{{model}}.tsv"
    params:
        train=config["train"],
        seed=config["seed"],
        # How the data were made, kept in meta.json so `unrender predict` can redo it.
        preprocess={
            "frames": config["frames"],
            "backend": config["modalities"]["backend"],
            "backend_options": backend_options(),
        },
    threads: 2
    resources:
        **gpu_resources(config["train"]["device"]),
    container:
        config["containers"]["torch"]
    script:
        "../scripts/train.py"
