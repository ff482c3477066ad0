"""Rule extract_frames: N evenly spaced frames of every sample of one shard."""

import logging

from unrender import logs
from unrender.pipeline import FrameOptions, extract_shard

logs.to_file(snakemake.log[0])
accepted, refused = extract_shard(
    snakemake.input.shard,
    snakemake.params.root,
    FrameOptions.from_config(snakemake.params.frames),
    snakemake.output.frames,
    snakemake.output.accepted,
    snakemake.output.index,
    snakemake.output.rejected,
)
logging.info("frames: %d samples accepted, %d rejected", accepted, refused)
