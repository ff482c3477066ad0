"""Rule summary: summary.md, the page a person reads first."""

import json
from pathlib import Path

from unrender import logs
from unrender.io import read_tsv
from unrender.report.summary import write_summary

logs.to_file(snakemake.log[0])
write_summary(
    snakemake.output.summary,
    snakemake.params.run,
    read_tsv(snakemake.input.metrics),
    read_tsv(snakemake.input.comparison),
    json.loads(Path(snakemake.input.meta).read_text()),
    snakemake.params.bootstrap,
)
