"""Rule train: one classifier of the run (rgb, a modality or ensemble_net)."""

from pathlib import Path

import torch

from unrender import logs
from unrender.train.loop import TrainOptions, train_model

logs.to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_model(
    snakemake.wildcards.model,
    snakemake.input.packs,
    snakemake.input.splits,
    TrainOptions.from_config(snakemake.params.train, snakemake.params.seed),
    Path(snakemake.output.meta).parent,
    snakemake.output.predictions,
    snakemake.output.tensorboard,
    snakemake.params.preprocess,
)
