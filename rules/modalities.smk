# One job per shard decomposes every frame of the shard into the 5 modalities. {root} is the
# run folder, or a perturbed copy of its test split (rules/perturb.smk; constrained in
# rules/common.smk).

if config["modalities"]["backend"] == "irn-tf1":

    # Upstream IRN++ code, unchanged, in its TF1 container (paper parity); the checkpoint
    # folder must be visible inside the container (e.g. --apptainer-args "--bind DIR").
    rule decompose_irn_tf1:
        input:
            shard="{root}/shards/{shard}.tsv",
            frames="{root}/frames/{shard}",
        output:
            modalities=[
                directory(f"{{root}}/modalities/{m}/{{shard}}") for m in MODALITIES
            ],
        log:
            "{root}/logs/decompose/{shard}.log",
        benchmark:
            "{root}/benchmarks/decompose/{shard}.tsv"
        params:
            out=lambda wildcards, output: str(Path(output.modalities[0]).parents[1]),
            checkpoint=config["irn"]["weights"],
            mode=config["irn"]["mode"],
            # null: run_shard.py's own batch.
            batch=(
                ""
                if config["modalities"]["batch_size"] is None
                else f"--batch-size {config['modalities']['batch_size']}"
            ),
        threads: 2
        container:
            config["containers"]["irn_tf1"]
        shell:
            "python3 /opt/irn-tf1/run_shard.py --frames {input.frames} --out {params.out}"
            " --shard {wildcards.shard} --checkpoint {params.checkpoint:q}"
            " --mode {params.mode} {params.batch} --threads {threads}"
            " > {log} 2>&1"

else:

    rule decompose:
        input:
            shard="{root}/shards/{shard}.tsv",
            frames="{root}/frames/{shard}",
        output:
            modalities=[
                directory(f"{{root}}/modalities/{m}/{{shard}}") for m in MODALITIES
            ],
        log:
            "{root}/logs/decompose/{shard}.log",
        benchmark:
            "{root}/benchmarks/decompose/{shard}.tsv"
        params:
            backend=config["modalities"]["backend"],
            options=backend_options(),
            batch_size=config["modalities"]["batch_size"],
        threads: 2
        resources:
            # Only the irn backend runs on a device; the classical one is numpy on CPUs.
            **gpu_resources(
                config["irn"]["device"]
                if config["modalities"]["backend"] == "irn"
                else "cpu"
            ),
        container:
            config["containers"]["torch"]
        script:
            "../scripts/decompose.py"
