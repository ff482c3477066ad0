"""Evaluation of a run's predictions on its test split.

- :mod:`unrender.evaluate.predictions`: the per-frame predictions table.
- :mod:`unrender.evaluate.metrics`: AUC, ACC@0.5, AP, EER (numpy, scores many resamples at once).
- :mod:`unrender.evaluate.bootstrap`: cluster (group or video) bootstrap CIs and paired tests.
- :mod:`unrender.evaluate.delong`: DeLong's test of two correlated AUCs.
- :mod:`unrender.evaluate.holm`: Holm's correction of a family of p-values.
- :mod:`unrender.evaluate.ensembles`: ensemble_mean and ensemble_stacked.
- :mod:`unrender.evaluate.run`: metrics.tsv, comparison.tsv, ROC figure of a run.
"""
