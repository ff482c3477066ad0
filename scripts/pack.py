"""Rule pack: one shard's frames or modalities decoded once into memory-mappable arrays."""

import logging

from unrender import logs
from unrender.train.packs import pack_shard

logs.to_file(snakemake.log[0])
n = pack_shard(
    snakemake.params.run_dir,
    snakemake.input.shard,
    snakemake.wildcards.part,
    snakemake.params.image_size,
    snakemake.output.pack,
)
logging.info("packed %d items of %s/%s", n, snakemake.wildcards.part, snakemake.wildcards.shard)
