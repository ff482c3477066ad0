"""``summary.md``: the page a person reads first, from metrics.tsv, comparison.tsv and the meta.

It states the study's question, this run's answer at the video level (or the image level for a
run without videos), the data per split, the metric tables and how to read them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from unrender.io import atomic_open

#: Significance level of the verdict; three ensembles are tested, so it is not a family-wise
#: guarantee (the p-values are reported for the reader to judge).
ALPHA = 0.05


def _num(value: str) -> float:
    return float(value) if value not in ("", "nan") else math.nan


def _ci(row: Mapping[str, str], metric: str) -> str:
    point, lo, hi = (_num(row[f"{metric}{s}"]) for s in ("", "_lo", "_hi"))
    if math.isnan(point):
        return "n/a"
    return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"


def verdict(comparison: Mapping[str, str]) -> str:
    """One sentence on one ensemble-vs-RGB row of comparison.tsv."""
    delta, lo, hi, p = (
        _num(comparison[c]) for c in ("delta_auc", "delta_lo", "delta_hi", "p_value")
    )
    model, level = comparison["model"], comparison["level"]
    if math.isnan(delta):
        return f"{model}: AUC undefined at the {level} level (one class in test)."
    facts = f"ΔAUC = {delta:+.3f} [{lo:+.3f}, {hi:+.3f}], p = {p:.3g}"
    if p < ALPHA and delta > 0:
        return f"**{model} beats RGB** at the {level} level ({facts})."
    if p < ALPHA and delta < 0:
        return f"**RGB beats {model}** at the {level} level ({facts})."
    return f"{model} and RGB do not differ significantly at the {level} level ({facts})."


def _metrics_table(rows: Sequence[Mapping[str, str]]) -> list[str]:
    lines = [
        "| model | n | units | AUC [95% CI] | ACC@0.5 | AP | EER |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            r["model"],
            r["n"],
            r["n_units"],
            *(_ci(r, m) for m in ("auc", "acc", "ap", "eer")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _data_table(splits: Mapping[str, Mapping[str, int]]) -> list[str]:
    keys = ("video_real", "video_fake", "image_real", "image_fake", "frames")
    lines = ["| split | " + " | ".join(k.replace("_", " ") for k in keys) + " |"]
    lines.append("|---|" + "---:|" * len(keys))
    for split, counts in splits.items():
        lines.append(f"| {split} | " + " | ".join(str(counts.get(k, 0)) for k in keys) + " |")
    return lines


def write_summary(
    path: str | os.PathLike[str],
    run: str,
    metrics: Sequence[Mapping[str, str]],
    comparison: Sequence[Mapping[str, str]],
    meta: Mapping[str, Any],
    n_resamples: int,
) -> None:
    """Write ``summary.md`` atomically.

    metrics, comparison: rows of metrics.tsv and comparison.tsv; meta: the rgb model's
    ``meta.json`` (splits, training options); n_resamples: bootstrap resamples used.
    """
    levels = [lv for lv in ("video", "image", "frame") if any(r["level"] == lv for r in metrics)]
    headline = levels[0] if levels else "video"
    options = meta["options"]
    lines = [
        f"# unrender: results of run `{run}`",
        "",
        "**Question.** Do the intrinsic components of a face (albedo, normal, shading, shadow, "
        "lighting), taken together, reveal a deepfake better than its RGB pixels?",
        "",
        f"**Answer on this run ({headline} level, test split).**",
        "",
        *(f"- {verdict(c)}" for c in comparison if c["level"] == headline),
        "",
        "## Data",
        "",
        "Samples per split (group-aware: all frames of a video, and every fake made from an "
        "original, fall on one side).",
        "",
        *_data_table(meta["splits"]),
        "",
    ]
    for level in levels:
        lines += [
            f"## Test metrics, {level} level",
            "",
            *_metrics_table([r for r in metrics if r["level"] == level]),
            "",
        ]
    lines += [
        "## Ensembles vs RGB (paired bootstrap of the AUC difference)",
        "",
        "| model | level | AUC | RGB AUC | ΔAUC [95% CI] | p |",
        "|---|---|---|---|---|---|",
        *(
            f"| {c['model']} | {c['level']} | {c['auc']} | {c['auc_baseline']} | "
            f"{c['delta_auc']} [{c['delta_lo']}, {c['delta_hi']}] | {c['p_value']} |"
            for c in comparison
        ),
        "",
        "## How to read this",
        "",
        f"- Models: `{options['arch']}` from `{options['pretrained']}` weights, "
        f"{options['image_size']} px inputs, {options['epochs']} epochs; the epoch kept is the "
        "best on val (val AUC); the test split was scored once, at the end. `lighting` is "
        "classified from its 27 SH coefficients; `ensemble_net` is one network over all five "
        "modalities; `ensemble_mean` averages the five modality models; `ensemble_stacked` is "
        "a logistic regression on their logits, fit on val.",
        "- Levels: `frame` scores every frame of the test videos, `video` the mean of a "
        "video's frame probabilities, `image` the still images.",
        f"- 95% CIs: percentile bootstrap, {n_resamples} resamples of the test *videos* "
        "(images at the image level), stratified by label; `units` counts them. "
        "p: two-sided paired bootstrap on the same resamples; three ensembles are tested "
        f"against RGB with no correction, so read p < {ALPHA} with that in mind.",
        "- ACC thresholds the probability at 0.5; EER is the error where false-positive and "
        "false-negative rates meet.",
        "- Files: `metrics.tsv`, `comparison.tsv`, `roc.png`, `predictions/` (per frame), "
        "`models/` (safetensors + meta.json), `tensorboard/` (training curves), "
        "`rejected.tsv` (inputs refused, with reasons).",
        "",
    ]
    with atomic_open(path) as f:
        f.write("\n".join(lines))
