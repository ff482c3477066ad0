"""Classifiers of a run's frames: one per input (rgb, each modality) and the fusion network.

- :mod:`unrender.train.inputs`: which inputs each model reads (light: the Snakefile imports it).
- :mod:`unrender.train.splits`: the run's one group-aware split, ``splits.tsv``.
- :mod:`unrender.train.packs`: items, and their inputs packed per shard (numpy, no torch).
- :mod:`unrender.train.data`: frame tensors, datasets over the PNGs or the packs' memory maps.
- :mod:`unrender.train.models`: the classifier (torchvision trunks, lighting MLP, fusion head).
- :mod:`unrender.train.loop`: training with the best epoch chosen on val.
- :mod:`unrender.train.checkpoint`: safetensors weights + JSON sidecar, no pickle.
"""
