"""Rule provenance: results/{run}/provenance.json, hashing every file of the finished run."""

from pathlib import Path

from unrender import provenance

started = Path(snakemake.params.started)
run_dir = Path(snakemake.output[0]).parent
record = provenance.build(
    run_dir=run_dir,
    config=snakemake.params.config,
    manifest=snakemake.params.manifest,
    context=snakemake.params.context,
    started=started.read_text().strip() if started.is_file() else None,
)
provenance.write(run_dir, record)
Path(snakemake.log[0]).write_text(f"{len(record['files'])} result files hashed\n")
