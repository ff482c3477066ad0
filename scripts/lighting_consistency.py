"""Rule lighting_consistency: predictions/lighting_consistency.tsv and its val threshold."""

from unrender import logs
from unrender.lighting_consistency import score_run

logs.to_file(snakemake.log[0])
score_run(
    snakemake.params.run_dir,
    snakemake.input.shards,
    snakemake.input.splits,
    snakemake.output.predictions,
    snakemake.output.calibration,
)
