"""Rule saliency: Grad-CAM of each picture model on a few test fakes and reals, for the report."""

import logging
from pathlib import Path

from unrender import logs
from unrender.report.saliency import pick_examples, write_saliency_figure

logs.to_file(snakemake.log[0])
examples = pick_examples(snakemake.input.predictions, snakemake.input.shards)
model_dirs = [Path(p).parent for p in snakemake.input.models]
write_saliency_figure(snakemake.params.run_dir, model_dirs, examples, snakemake.output.figure)
logging.info("saliency of %s on %s", snakemake.params.models, [e.item.sample_id for e in examples])
