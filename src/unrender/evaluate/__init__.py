"""Evaluation of a run's predictions on its test split.

- :mod:`unrender.evaluate.predictions`: the per-frame predictions table.
- :mod:`unrender.evaluate.metrics`: AUC, ACC@0.5, AP, EER (torchmetrics where it has them).
- :mod:`unrender.evaluate.bootstrap`: video-resampling bootstrap CIs and paired tests.
- :mod:`unrender.evaluate.ensembles`: ensemble_mean and ensemble_stacked.
- :mod:`unrender.evaluate.run`: metrics.tsv, comparison.tsv, ROC figure of a run.
"""
