"""What a person reads: ``summary.md`` and the figures of the Snakemake report.

- :mod:`unrender.report.summary`: summary.md from metrics.tsv and comparison.tsv.
- :mod:`unrender.report.montage`: one frame and its five modalities side by side.

The report captions live in ``report/*.rst`` at the repository root.
"""
