# results/{run}/provenance.json: written last, after every other target of `rule all`, so its
# file hashes cover the finished run; `unrender verify results/{run}` checks them later.
# It runs on the submit host (localrule, no container): it needs git and the Docker engine.

#: The provenance target; `rule all` lists it beside the other final outputs.
PROVENANCE = [f"{OUT}/provenance.json"]
#: When this snakemake invocation started to run jobs (ISO 8601, UTC); written by onstart,
#: which runs once in the main process (spawned jobs get --no-hooks), never in a dry run.
STARTED_FILE = f"{OUT}/logs/provenance_started.txt"


onstart:
    from unrender.io import atomic_open
    from unrender.provenance import now

    with atomic_open(STARTED_FILE) as f:
        f.write(now() + "\n")


def provenance_inputs(wildcards):
    """Every other target of `rule all`: provenance.json hashes the finished run."""
    return [path for path in rules.all.input if path not in PROVENANCE]


rule provenance:
    input:
        provenance_inputs,
    output:
        PROVENANCE[0],
    log:
        f"{OUT}/logs/provenance.log",
    localrule: True
    params:
        config=config,
        manifest=raw_manifest(),
    run:
        from unrender import provenance

        started = Path(STARTED_FILE)
        record = provenance.build(
            run_dir=OUT,
            config=params.config,
            manifest=params.manifest,
            repo=workflow.basedir,
            started=started.read_text().strip() if started.is_file() else None,
        )
        provenance.write(OUT, record)
        Path(log[0]).write_text(f"{len(record['files'])} result files hashed\n")
