"""Rule adapt_dataset: the manifest of a FaceForensics++, DFDC, Celeb-DF or labelled folder."""

import logging

from unrender import logs
from unrender.datasets import build_manifest, write_manifest

logs.to_file(snakemake.log[0])
rows = build_manifest(snakemake.params.kind, snakemake.params.root, **snakemake.params.options)
write_manifest(snakemake.output.manifest, rows)
logging.info("%s: %d rows", snakemake.params.kind, len(rows))
