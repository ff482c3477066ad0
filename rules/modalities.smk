rule decompose:
    input:
        shard=f"{OUT}/shards/{{shard}}.tsv",
        frames=f"{OUT}/frames/{{shard}}",
    output:
        modalities=[directory(f"{OUT}/modalities/{m}/{{shard}}") for m in MODALITIES],
    log:
        f"{OUT}/logs/decompose/{{shard}}.log",
    container:
        config["containers"]["torch"]
    threads: 2
    params:
        backend=config["modalities"]["backend"],
        options=backend_options(),
        batch_size=config["modalities"]["batch_size"],
    script:
        "../scripts/decompose.py"
