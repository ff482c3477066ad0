"""Rule perturb_frames: the test samples of one shard, their frames perturbed."""

import logging

from unrender import logs, perturb

logs.to_file(snakemake.log[0])
n = perturb.perturb_shard(
    snakemake.input.shard,
    snakemake.input.frames,
    snakemake.input.splits,
    perturb.parse(snakemake.wildcards.perturbation),
    snakemake.output.shard,
    snakemake.output.frames,
)
logging.info("%s: perturbed %d test frames", snakemake.wildcards.perturbation, n)
