"""Rule shortcuts: shortcuts.tsv, one-feature detectors on trivial file properties."""

from unrender import logs
from unrender.evaluate.shortcuts import audit_run

logs.to_file(snakemake.log[0])
evaluate = snakemake.params.evaluate
audit_run(
    snakemake.input.splits,
    snakemake.input.shards,
    snakemake.params.root,
    snakemake.output.shortcuts,
    n_resamples=evaluate["bootstrap"],
    seed=snakemake.params.seed,
    unit=evaluate["unit"],
    min_per_class=evaluate["min_per_class"],
    warning_auc=evaluate["shortcut_warning_auc"],
)
