rule synth:
    output:
        manifest=SYNTH_MANIFEST,
    log:
        f"{OUT}/logs/synth.log",
    benchmark:
        f"{OUT}/benchmarks/synth.tsv"
    params:
        synth=synth_options(),
    threads: 2
    container:
        config["containers"]["torch"]
    script:
        "../scripts/synth.py"


rule adapt_dataset:
    output:
        manifest=ADAPTED_MANIFEST,
    log:
        f"{OUT}/logs/adapt_dataset.log",
    benchmark:
        f"{OUT}/benchmarks/adapt_dataset.tsv"
    params:
        kind=config["dataset"]["kind"],
        root=dataset_root,
        options=config["dataset"]["options"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/adapt_dataset.py"


rule split_manifest:
    input:
        manifest=raw_manifest(),
    output:
        shards=expand(f"{OUT}/manifest/{{shard}}.tsv", shard=SHARDS),
        rejected=f"{OUT}/rejected/manifest.tsv",
    log:
        f"{OUT}/logs/split_manifest.log",
    benchmark:
        f"{OUT}/benchmarks/split_manifest.tsv"
    params:
        root=dataset_root,
        shard_size=SHARD_SIZE,
        allow_outside_root=config["dataset"]["allow_outside_root"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/split_manifest.py"


rule collect_rejected:
    input:
        manifest=f"{OUT}/rejected/manifest.tsv",
        frames=expand(f"{OUT}/rejected/frames/{{shard}}.tsv", shard=SHARDS),
        accepted=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
        frame_indexes=expand(f"{OUT}/frames/{{shard}}.tsv", shard=SHARDS),
    output:
        rejected=f"{OUT}/rejected.tsv",
        summary=f"{OUT}/data_summary.tsv",
    log:
        f"{OUT}/logs/collect_rejected.log",
    benchmark:
        f"{OUT}/benchmarks/collect_rejected.tsv"
    container:
        config["containers"]["torch"]
    script:
        "../scripts/collect_rejected.py"
