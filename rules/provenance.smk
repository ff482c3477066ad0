# results/{run}/provenance.json: written last, after every other target of `rule all`, so its
# file hashes cover the finished run; `unrender verify results/{run}` checks them later.
# The git state and image ids are taken on the submitting host (a params function runs
# there, when the job is scheduled: after Snakemake has pulled the images); hashing the
# files may run anywhere.

#: The provenance target; `rule all` lists it beside the other final outputs.
PROVENANCE = [f"{OUT}/provenance.json"]
#: When this snakemake invocation started to run jobs (ISO 8601, UTC); written by onstart,
#: which runs once in the main process (spawned jobs get --no-hooks), never in a dry run.
STARTED_FILE = f"{OUT}/logs/provenance_started.txt"


from unrender.provenance import host_context


onstart:
    from unrender.io import atomic_open
    from unrender.provenance import now

    with atomic_open(STARTED_FILE) as f:
        f.write(now() + "\n")


rule provenance:
    input:
        # every other target of `rule all`: provenance.json hashes the finished run
        lambda wildcards: [path for path in rules.all.input if path not in PROVENANCE],
    output:
        PROVENANCE[0],
    log:
        f"{OUT}/logs/provenance.log",
    benchmark:
        f"{OUT}/benchmarks/provenance.tsv"
    params:
        config=config,
        manifest=raw_manifest(),
        context=lambda wildcards: host_context(
            workflow.basedir, config["containers"], apptainer_dir=apptainer_dir()
        ),
        started=STARTED_FILE,
    container:
        config["containers"]["torch"]
    script:
        "../scripts/provenance.py"
