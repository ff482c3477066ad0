"""Classifiers of a run's frames: one per input (rgb, each modality) and the fusion network.

- :mod:`unrender.train.data`: samples, group-aware splits, frame tensors from the run folder.
- :mod:`unrender.train.models`: the classifier (torchvision trunks, lighting MLP, fusion head).
- :mod:`unrender.train.loop`: training with the best epoch chosen on val.
- :mod:`unrender.train.checkpoint`: safetensors weights + JSON sidecar, no pickle.
"""
