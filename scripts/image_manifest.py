"""Rule image_manifest: the FFHQ reals, then the StyleGAN2-ADA fakes, in one manifest."""

import logging

from unrender import logs, manifest
from unrender.io import write_tsv

logs.to_file(snakemake.log[0])
rows = [
    row for path in [snakemake.input.reals, *snakemake.input.fakes] for row in manifest.read(path)
]
write_tsv(snakemake.output.manifest, rows, manifest.COLUMNS)
logging.info("image branch: %d rows", len(rows))
