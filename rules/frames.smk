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
    params:
        root=dataset_root,
        frames=config["frames"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/extract_frames.py"
