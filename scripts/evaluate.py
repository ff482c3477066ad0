"""Rule evaluate: metrics.tsv, comparison.tsv, roc.png and the two post-hoc ensembles."""

from unrender import logs
from unrender.evaluate.run import evaluate_run
from unrender.train.splits import read_groups

logs.to_file(snakemake.log[0])
evaluate_run(
    dict(zip(snakemake.params.models, snakemake.input.predictions, strict=True)),
    snakemake.output.metrics,
    snakemake.output.comparison,
    snakemake.output.roc,
    snakemake.output.mean,
    snakemake.output.stacked,
    snakemake.output.stacker,
    groups=read_groups(snakemake.input.splits),
    n_resamples=snakemake.params.evaluate["bootstrap"],
    seed=snakemake.params.seed,
    unit=snakemake.params.evaluate["unit"],
    min_per_class=snakemake.params.evaluate["min_per_class"],
)
