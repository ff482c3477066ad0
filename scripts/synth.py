"""Rule synth: write the embedded synthetic dataset and its manifest."""

from pathlib import Path

from unrender import logs
from unrender.synth import SynthConfig, write_dataset

logs.to_file(snakemake.log[0])
cfg = SynthConfig.from_mapping(snakemake.params.synth)
written = write_dataset(cfg, Path(snakemake.output.manifest).parent)
assert Path(written) == Path(snakemake.output.manifest), (written, snakemake.output.manifest)
