"""Rule cross_predict: every model of the run on one target run's frames and modalities."""

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
        m: Path(p).parent
        for m, p in zip(snakemake.params.models, snakemake.input.weights, strict=True)
    },
    snakemake.input.stacker,
    snakemake.input.calibration,
    f"results/{snakemake.wildcards.target}",
    snakemake.input.shards,
    snakemake.output.predictions,
    resolve_device(snakemake.params.device),
    snakemake.params.batch_size,
)
logging.info("scored %d frames of %s", n, snakemake.wildcards.target)
