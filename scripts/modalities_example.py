"""Rule modalities_example: one frame and its five modalities side by side, for the report."""

import logging

from unrender import logs
from unrender.report.montage import pick_sample, write_montage

logs.to_file(snakemake.log[0])
shard, sample = pick_sample(snakemake.input.shards)
write_montage(snakemake.params.run_dir, shard, sample, snakemake.output.montage)
logging.info("montage of %s (shard %s)", sample.sample_id, shard)
