"""Rule decompose: the 5 intrinsic modalities of every frame of one shard."""

import logging
from pathlib import Path

from unrender import logs
from unrender.pipeline import decompose_shard

logs.to_file(snakemake.log[0])
n = decompose_shard(
    snakemake.input.shard,
    snakemake.input.frames,
    Path(snakemake.output.modalities[0]).parents[1],
    snakemake.wildcards.shard,
    snakemake.params.backend,
    snakemake.params.options,
    snakemake.params.batch_size,
    snakemake.threads,
)
logging.info("decomposed %d frames with backend %s", n, snakemake.params.backend)
