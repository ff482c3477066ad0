"""Rule collect_rejected: one rejected.tsv for the run; accepted, rejected, face fallbacks."""

from unrender import logs
from unrender.pipeline import summarise_data

logs.to_file(snakemake.log[0])
summarise_data(
    [snakemake.input.manifest, *snakemake.input.frames],
    snakemake.input.accepted,
    snakemake.input.frame_indexes,
    snakemake.output.rejected,
    snakemake.output.summary,
)
