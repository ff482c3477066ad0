# One job per shard decomposes every frame of the shard into the 5 modalities. {root} is the
# run folder, or a perturbed copy of its test split (rules/perturb.smk; constrained in
# rules/common.smk). One rule for every backend: its command and image follow
# modalities.backend (decompose_command), so set-resources and --set-threads name it alike.


rule decompose:
    input:
        shard="{root}/shards/{shard}.tsv",
        frames="{root}/frames/{shard}",
    output:
        modalities=[directory(f"{{root}}/modalities/{m}/{{shard}}") for m in MODALITIES],
    log:
        "{root}/logs/decompose/{shard}.log",
    benchmark:
        "{root}/benchmarks/decompose/{shard}.tsv"
    params:
        # What Snakemake compares with the last run to rerun a shard (params given by a
        # function are not compared); the command adds paths, threads and the interpreter.
        options=shlex.join(decompose_options(config)),
        command=decompose_command,
    threads: 2
    resources:
        # Only the irn backend runs on a device; the others are numpy or TF1 on CPUs.
        **gpu_resources(
            config["irn"]["device"]
            if config["modalities"]["backend"] == "irn"
            else "cpu"
        ),
    container:
        # irn-tf1: upstream IRN++ code, unchanged, in its TF1 image (paper parity); its
        # checkpoint folder must be visible inside it (e.g. --apptainer-args "--bind DIR").
        config["containers"][
            "irn_tf1" if config["modalities"]["backend"] == "irn-tf1" else "torch"
        ]
    shell:
        "{params.command} > {log} 2>&1"
