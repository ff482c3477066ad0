# One classifier per model of MODELS (rgb, each modality, ensemble_net), trained on the
# run's accepted samples; see src/unrender/train/.


wildcard_constraints:
    model="|".join(MODELS),


rule train:
    input:
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
        frames=expand(f"{OUT}/frames/{{shard}}", shard=SHARDS),
        modalities=expand(
            f"{OUT}/modalities/{{modality}}/{{shard}}",
            modality=MODALITIES,
            shard=SHARDS,
        ),
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
        # The run folder: shards/ is one of its children.
        run_dir=lambda wildcards, input: str(Path(input.shards[0]).parents[1]),
        train=config["train"],
        seed=config["seed"],
        # How the data were made, kept in meta.json so `unrender predict` can redo it.
        preprocess={
            "frames": config["frames"],
            "backend": config["modalities"]["backend"],
            "backend_options": backend_options(),
        },
    threads: 2
    container:
        config["containers"]["torch"]
    script:
        "../scripts/train.py"
