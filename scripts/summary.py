"""Rule summary: summary.md, the page a person reads first."""

import json
from collections import Counter
from pathlib import Path

from unrender import logs, manifest
from unrender.io import read_tsv
from unrender.report.summary import describe_data, write_summary
from unrender.synth import SynthConfig
from unrender.synth.dataset import planted_signal

logs.to_file(snakemake.log[0])
synth = snakemake.params.synth
sources = Counter(s.source for p in snakemake.input.shards for s in manifest.read_samples(p))
write_summary(
    snakemake.output.summary,
    snakemake.params.run,
    read_tsv(snakemake.input.metrics),
    read_tsv(snakemake.input.comparison),
    read_tsv(snakemake.input.shortcuts),
    {
        model: json.loads(Path(p).read_text())
        for model, p in zip(snakemake.params.models, snakemake.input.metas, strict=True)
    },
    snakemake.params.evaluate,
    describe_data(
        snakemake.params.dataset,
        sources,
        None if synth is None else planted_signal(SynthConfig.from_mapping(synth)),
    ),
    [row for path in snakemake.input.cross for row in read_tsv(path)],
    [row for path in snakemake.input.robustness for row in read_tsv(path)],
)
