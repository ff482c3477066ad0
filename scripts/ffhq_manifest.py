"""Rule ffhq_manifest: the first ffhq.count FFHQ images as manifest rows (label 0, kind image)."""

import logging

from unrender import logs, manifest
from unrender.datasets import ffhq
from unrender.io import write_tsv

logs.to_file(snakemake.log[0])
params = snakemake.params
rows = ffhq.build(
    params.root,
    params.image_count,
    params.missing,
    dataset_root=params.dataset_root,
    allow_outside_root=params.allow_outside_root,
)
write_tsv(snakemake.output.manifest, rows, manifest.COLUMNS)
logging.info("ffhq: %d images listed from %s", len(rows), params.root)
