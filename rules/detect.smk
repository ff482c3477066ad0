# Training-free detectors scored straight from the frames and modalities: the
# lighting_consistency check (src/unrender/lighting_consistency.py).


rule lighting_consistency:
    input:
        splits=f"{OUT}/splits.tsv",
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
        frames=expand(f"{OUT}/frames/{{shard}}", shard=SHARDS),
        normals=expand(f"{OUT}/modalities/normal/{{shard}}", shard=SHARDS),
    output:
        predictions=f"{OUT}/predictions/lighting_consistency.tsv",
        calibration=f"{OUT}/models/lighting_consistency/calibration.json",
    log:
        f"{OUT}/logs/lighting_consistency.log",
    benchmark:
        f"{OUT}/benchmarks/lighting_consistency.tsv"
    params:
        # The run folder: shards/ is one of its children.
        run_dir=lambda wildcards, input: str(Path(input.splits).parent),
    container:
        config["containers"]["torch"]
    script:
        "../scripts/lighting_consistency.py"
