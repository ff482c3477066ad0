rule extract_frames:
    input:
        shard=f"{OUT}/manifest/{{shard}}.tsv",
    output:
        frames=directory(f"{OUT}/frames/{{shard}}"),
        accepted=f"{OUT}/shards/{{shard}}.tsv",
        index=f"{OUT}/frames/{{shard}}.tsv",
        rejected=f"{OUT}/rejected/frames/{{shard}}.tsv",
    log:
        f"{OUT}/logs/extract_frames/{{shard}}.log",
    container:
        config["containers"]["torch"]
    params:
        root=dataset_root,
        frames=config["frames"],
    script:
        "../scripts/extract_frames.py"
