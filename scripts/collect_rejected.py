"""Rule collect_rejected: one rejected.tsv for the run and the accepted/rejected counts."""

from unrender import logs
from unrender.pipeline import summarise_data

logs.to_file(snakemake.log[0])
summarise_data(
    [snakemake.input.manifest, *snakemake.input.frames],
    snakemake.input.accepted,
    snakemake.output.rejected,
    snakemake.output.summary,
)
