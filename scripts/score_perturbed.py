"""Rule score_perturbed: every model's predictions on one perturbation's test frames."""

import logging
from pathlib import Path

import torch

from unrender import logs
from unrender.devices import resolve_device
from unrender.evaluate.cross import score_target

logs.to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
n = score_target(
    {
        m: Path(meta).parent
        for m, meta in zip(snakemake.params.models, snakemake.input.metas, strict=True)
    },
    snakemake.input.stacker,
    snakemake.input.calibration,
    # The perturbation's run-like folder: shards/ is one of its children.
    Path(snakemake.input.shards[0]).parents[1],
    snakemake.input.shards,
    snakemake.output.predictions,
    resolve_device(snakemake.params.device),
    snakemake.params.batch_size,
)
logging.info("%s: scored %d frames", snakemake.wildcards.perturbation, n)
