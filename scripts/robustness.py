"""Rule robustness: robustness.tsv and its figure, AUC per perturbation, model and level."""

from unrender import logs
from unrender.evaluate.robustness import robustness_run
from unrender.train.splits import read_groups

logs.to_file(snakemake.log[0])
evaluate = snakemake.params.evaluate
robustness_run(
    {
        **dict(zip(snakemake.params.models, snakemake.input.clean, strict=True)),
        "ensemble_mean": snakemake.input.mean,
        "ensemble_stacked": snakemake.input.stacked,
    },
    dict(zip(snakemake.params.perturbations, snakemake.input.perturbed, strict=True)),
    read_groups(snakemake.input.splits),
    snakemake.output.table,
    snakemake.output.figure,
    n_resamples=evaluate["bootstrap"],
    seed=snakemake.params.seed,
    unit=evaluate["unit"],
    min_per_class=evaluate["min_per_class"],
)
