"""Rule split: the run's one train/val/test split of its accepted samples, splits.tsv."""

import logging

from unrender import logs
from unrender.train.splits import write_splits

logs.to_file(snakemake.log[0])
split = snakemake.params.split
write_splits(
    snakemake.input.shards,
    snakemake.output.splits,
    split["val"],
    split["test"],
    snakemake.params.seed,
)
logging.info("wrote %s", snakemake.output.splits)
