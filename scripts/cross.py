"""Rule cross: cross.tsv, every model on every target of evaluate.cross, with CIs."""

from pathlib import Path

from unrender import logs, manifest
from unrender.evaluate.cross import evaluate_cross

logs.to_file(snakemake.log[0])
targets = snakemake.params.targets
groups = {t: {} for t in targets}
for shard in snakemake.input.shards:  # results/{target}/shards/{shard}.tsv
    groups[Path(shard).parents[1].name].update(
        {s.sample_id: s.group for s in manifest.read_samples(shard)}
    )
evaluate_cross(
    dict(zip(targets, snakemake.input.predictions, strict=True)),
    groups,
    snakemake.output.cross,
    n_resamples=snakemake.params.evaluate["bootstrap"],
    seed=snakemake.params.seed,
    unit=snakemake.params.evaluate["unit"],
    min_per_class=snakemake.params.evaluate["min_per_class"],
)
