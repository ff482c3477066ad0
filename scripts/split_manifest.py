"""Rule split_manifest: validate the manifest and write its accepted rows per shard."""

import logging

from unrender import logs
from unrender.pipeline import split_manifest

logs.to_file(snakemake.log[0])
accepted, refused = split_manifest(
    snakemake.input.manifest,
    snakemake.params.root,
    snakemake.output.shards,
    snakemake.output.rejected,
    snakemake.params.shard_size,
    snakemake.params.allow_outside_root,
)
logging.info("manifest: %d rows accepted, %d rejected", accepted, refused)
