"""Rule stylegan_generate: one block of seeds → seed%04d.png images and their manifest rows."""

import logging

from unrender import logs, manifest
from unrender.generate.stylegan import fake_rows, generate_from_pickle
from unrender.io import write_tsv

logs.to_file(snakemake.log[0])
params = snakemake.params
generated, skipped = generate_from_pickle(
    snakemake.input.network,
    params.seeds,
    params.outdir,
    truncation_psi=params.truncation_psi,
    class_idx=params.class_idx,
    batch_size=params.batch_size,
    device=params.device,
    network_sha256=params.network_sha256,
)
write_tsv(
    snakemake.output.manifest, fake_rows(params.seeds, params.outdir, params.root), manifest.COLUMNS
)
logging.info("stylegan: %d images generated, %d already there", generated, skipped)
