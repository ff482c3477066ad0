"""``summary.md``: the page a person reads first, from metrics.tsv, comparison.tsv and the metas.

It opens with what the data are, states the study's question and this run's answer at the
video level (or the image level for a run without videos), then the training of each model,
the data per split, the metric tables and how to read them. Every table says its n, units
and groups; a level with fewer bootstrap clusters per class than the threshold gets no CI or
p-value printed as a number, only "n too small" with the counts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from unrender.io import atomic_open

#: Family-wise significance level of the verdict (Holm over the ensembles of a level).
ALPHA = 0.05

#: What a row and a unit of each level are, for the tables' size lines.
ROW_NOUN = {"frame": "frames", "video": "videos", "image": "images"}
UNIT_NOUN = {"frame": "videos", "video": "videos", "image": "images"}


def _num(value: str) -> float:
    return float(value) if value not in ("", "nan") else math.nan


def is_small(row: Mapping[str, str]) -> bool:
    """Whether a metrics.tsv or comparison.tsv row is flagged too small for CIs and p-values."""
    return row["small_n"] == "yes"


def clusters(row: Mapping[str, str]) -> str:
    """``"4 real / 4 fake groups"``: the bootstrap clusters per class of a row's level."""
    noun = "groups" if row["bootstrap_unit"] == "group" else UNIT_NOUN[row["level"]]
    return f"{row['clusters_real']} real / {row['clusters_fake']} fake {noun}"


def size(row: Mapping[str, str]) -> str:
    """``"n = 80 frames of 16 videos in 4 groups"`` for a row's level."""
    level = row["level"]
    units = "" if level != "frame" else f" of {row['n_units']} {UNIT_NOUN[level]}"
    return f"n = {row['n']} {ROW_NOUN[level]}{units} in {row['n_groups']} groups"


def too_small(row: Mapping[str, str], min_per_class: int) -> str:
    """The words printed instead of a CI or p-value for a flagged row."""
    return f"n too small ({clusters(row)}; fewer than {min_per_class} per class)"


def _ci(row: Mapping[str, str], metric: str) -> str:
    point, lo, hi = (_num(row[f"{metric}{s}"]) for s in ("", "_lo", "_hi"))
    if math.isnan(point):
        return "n/a"
    if is_small(row):
        return f"{point:.3f}"
    return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"


def verdict(comparison: Mapping[str, str], min_per_class: int) -> str:
    """One sentence on one ensemble-vs-RGB row of comparison.tsv, with its Holm-adjusted p."""
    delta, lo, hi, p = (
        _num(comparison[c]) for c in ("delta_auc", "delta_lo", "delta_hi", "p_holm")
    )
    model, level = comparison["model"], comparison["level"]
    where = f"the {level} level, {size(comparison)}"
    if math.isnan(delta):
        return f"{model}: AUC undefined at {where} (one class in test)."
    if is_small(comparison):
        return (
            f"{model} vs RGB at {where}: ΔAUC = {delta:+.3f}, not tested: "
            f"{too_small(comparison, min_per_class)}."
        )
    facts = (
        f"ΔAUC = {delta:+.3f} [{lo:+.3f}, {hi:+.3f}], Holm-adjusted p = {p:.3g} "
        f"(raw {_num(comparison['p_value']):.3g}), bootstrap over {clusters(comparison)}"
    )
    if p < ALPHA and delta > 0:
        return f"**{model} beats RGB** at {where} ({facts}; α = {ALPHA} family-wise)."
    if p < ALPHA and delta < 0:
        return f"**RGB beats {model}** at {where} ({facts}; α = {ALPHA} family-wise)."
    return (
        f"{model} and RGB do not differ significantly at {where} ({facts}; "
        f"α = {ALPHA} family-wise)."
    )


def _metrics_table(rows: Sequence[Mapping[str, str]], min_per_class: int) -> list[str]:
    first = rows[0]
    note = f"{size(first)}; bootstrap over {clusters(first)}."
    auc = "AUC [95% CI]"
    if is_small(first):
        note = f"{size(first)}. **{too_small(first, min_per_class)}**: point estimates only, no CI."
        auc = "AUC"
    lines = [
        note,
        "",
        f"| model | {auc} | ACC@0.5 | AP | EER |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r["model"], *(_ci(r, m) for m in ("auc", "acc", "ap", "eer"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _comparison_table(rows: Sequence[Mapping[str, str]], min_per_class: int) -> list[str]:
    lines = [
        "| model | level | n, groups | AUC | RGB AUC | ΔAUC [95% CI] | p | p Holm | "
        "DeLong p | DeLong p Holm |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in rows:
        head = [c["model"], c["level"], f"{c['n']}, {c['n_groups']}"]
        head += [f"{_num(c[k]):.3f}" for k in ("auc", "auc_baseline")]
        delta = _num(c["delta_auc"])
        if is_small(c):
            cells = [f"{delta:+.3f}", too_small(c, min_per_class), "", "", ""]
        else:
            cells = [
                f"{delta:+.3f} [{_num(c['delta_lo']):+.3f}, {_num(c['delta_hi']):+.3f}]",
                *(f"{_num(c[k]):.3g}" for k in ("p_value", "p_holm", "delong_p", "delong_p_holm")),
            ]
        lines.append("| " + " | ".join(head + cells) + " |")
    return lines


def _data_table(splits: Mapping[str, Mapping[str, int]]) -> list[str]:
    keys = ("video_real", "video_fake", "image_real", "image_fake", "frames")
    lines = ["| split | " + " | ".join(k.replace("_", " ") for k in keys) + " |"]
    lines.append("|---|" + "---:|" * len(keys))
    for split, counts in splits.items():
        lines.append(f"| {split} | " + " | ".join(str(counts.get(k, 0)) for k in keys) + " |")
    return lines


def training_lines(metas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The training table: per model its best epoch, epochs run and why it stopped."""
    lines = [
        "| model | best epoch | epochs run | val AUC at best | note |",
        "|---|---:|---:|---|---|",
    ]
    for model, meta in metas.items():
        best = meta["history"][meta["best_epoch"] - 1]
        note = (
            "**chose its last epoch**: still improving at max_epochs"
            if meta["chose_last_epoch"]
            else "early-stopped"
            if meta["epochs_run"] < meta["options"]["max_epochs"]
            else "ran max_epochs; best epoch earlier"
        )
        lines.append(
            f"| {model} | {meta['best_epoch']} | {meta['epochs_run']} | "
            f"{best['val_auc']:.3f} | {note} |"
        )
    return lines


def shortcut_lines(
    rows: Sequence[Mapping[str, str]], warning_auc: float, min_per_class: int
) -> tuple[list[str], list[str]]:
    """(warning lines for the top of the page, the audit section) from shortcuts.tsv rows."""
    warnings = [
        f"- ⚠ **Shortcut warning**: `{r['feature']}` alone reaches test AUC {_num(r['auc']):.3f} "
        f"at the {r['level']} level (warning at {warning_auc:g}): the models may be learning "
        "this file property instead of the fake."
        + (f" ({too_small(r, min_per_class)}.)" if is_small(r) else "")
        for r in rows
        if r["warning"] == "yes"
    ]
    sizes = []
    for level in dict.fromkeys(r["level"] for r in rows):
        first = next(r for r in rows if r["level"] == level)
        small = f"; {too_small(first, min_per_class)}" if is_small(first) else ""
        sizes.append(f"- {level}: {size(first)}{small}.")
    section = [
        "## Shortcut audit",
        "",
        "One-feature detectors on file properties that carry no face evidence, fitted on val "
        f"and scored on test; a warning at AUC >= {warning_auc:g}. Near 0.5 means the property "
        "does not separate the classes.",
        "",
        *sizes,
        "",
        "| level | feature | direction | AUC [95% CI] | warning |",
        "|---|---|---|---|---|",
        *(
            f"| {r['level']} | {r['feature']} | {r['direction']} | {_ci(r, 'auc')} | "
            f"{r['warning']} |"
            for r in rows
        ),
    ]
    return warnings, section


def describe_data(
    dataset: Mapping[str, Any], sources: Mapping[str, int], planted: str | None
) -> list[str]:
    """The opening paragraph: dataset kind, where it comes from, its sources, what was planted.

    dataset: the config's ``dataset`` section; sources: manifest ``source`` -> accepted
    samples; planted: for a synthetic dataset, what the generator built into the fakes.
    """
    kind = dataset["kind"]
    origin = {
        "synth": "the embedded synthetic dataset (rendered faces, `unrender.synth`)",
        "manifest": f"the manifest `{dataset.get('manifest', '')}`",
        "ffhq-stylegan": "FFHQ reals against StyleGAN2-ADA fakes generated by this run",
    }.get(kind, f"the `{kind}` dataset folder `{dataset.get('root', '')}`")
    listed = ", ".join(f"{s} ({n})" for s, n in sorted(sources.items()))
    lines = [f"**Data.** Dataset kind `{kind}`: {origin}. Sources (accepted samples): {listed}."]
    if planted is not None:
        lines += [
            "",
            f"**These data are synthetic.** {planted} This run's answer is therefore a check "
            "of the machinery (does the pipeline find a signal that is known to be there?), "
            "not evidence about real deepfakes.",
        ]
    return lines


def write_summary(
    path: str | os.PathLike[str],
    run: str,
    metrics: Sequence[Mapping[str, str]],
    comparison: Sequence[Mapping[str, str]],
    shortcuts: Sequence[Mapping[str, str]],
    metas: Mapping[str, Mapping[str, Any]],
    evaluate: Mapping[str, Any],
    data_lines: Sequence[str],
    cross: Sequence[Mapping[str, str]] = (),
    robustness: Sequence[Mapping[str, str]] = (),
) -> None:
    """Write ``summary.md`` atomically.

    metrics, comparison, shortcuts: rows of metrics.tsv, comparison.tsv and shortcuts.tsv;
    metas: model -> its ``meta.json`` (splits, training options, epochs); evaluate: the
    config's ``evaluate`` section (bootstrap, unit, min_per_class, shortcut_warning_auc);
    data_lines: :func:`describe_data`; cross: rows of cross.tsv (none without evaluate.cross);
    robustness: rows of robustness.tsv (none without evaluate.perturb).
    """
    # Here, not at the top: these sections format their cells with this module's helpers.
    from unrender.report.cross import cross_lines
    from unrender.report.robustness import robustness_lines

    min_per_class = int(evaluate["min_per_class"])
    warnings, audit = shortcut_lines(
        shortcuts, float(evaluate["shortcut_warning_auc"]), min_per_class
    )
    levels = [lv for lv in ("video", "image", "frame") if any(r["level"] == lv for r in metrics)]
    headline = levels[0] if levels else "video"
    meta = next(iter(metas.values()))
    options = meta["options"]
    family = [c for c in comparison if c["level"] == headline]
    lines = [
        f"# unrender: results of run `{run}`",
        "",
        *data_lines,
        "",
        "**Question.** Do the intrinsic components of a face (albedo, normal, shading, shadow, "
        "lighting), taken together, reveal a deepfake better than its RGB pixels?",
        "",
        f"**Answer on this run ({headline} level, test split; {len(family)} ensembles tested "
        f"against RGB, p-values Holm-adjusted over them).**",
        "",
        *(f"- {verdict(c, min_per_class)}" for c in family),
        *warnings,
        "",
        "## Training",
        "",
        f"Every model has the same budget rule: at most {options['max_epochs']} epochs, "
        f"stopped early after {options['patience']} epochs without a better val AUC; the "
        "epoch kept is the best on val. A model that chose its last epoch was still "
        "improving when the budget ran out, so its test score may understate it.",
        "",
        *training_lines(metas),
        "",
        "## Data per split",
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
            *_metrics_table([r for r in metrics if r["level"] == level], min_per_class),
            "",
        ]
    lines += [
        "## Ensembles vs RGB (paired bootstrap and DeLong on the AUC difference)",
        "",
        *_comparison_table(comparison, min_per_class),
        "",
        *cross_lines(cross, run, min_per_class),
        *robustness_lines(robustness, min_per_class),
        *audit,
        "",
        "## How to read this",
        "",
        f"- Models: `{options['arch']}` from `{options['pretrained']}` weights, "
        f"{options['image_size']} px inputs; the test split was scored once, at the end. "
        "`lighting` is classified from its 27 SH coefficients; `ensemble_net` is one network "
        "over all five modalities; `lighting_consistency` is not trained: it scores how much "
        "the SH lighting fit on the inner face disagrees with the outer ring (and left with "
        "right), plus its spread over a video's frames, thresholded on val (README); "
        "`ensemble_mean` averages the five modality models; `ensemble_stacked` is a logistic "
        "regression on their logits and `lighting_consistency`'s, fit on val.",
        "- Levels: `frame` scores every frame of the test videos, `video` the mean of a "
        "video's frame probabilities, `image` the still images.",
        f"- 95% CIs: percentile bootstrap, {evaluate['bootstrap']} resamples of the test "
        + (
            "*groups* (an original and every fake made from it, or one identity: the units "
            "that are independent), taking every row of a drawn group"
            if evaluate["unit"] == "group"
            else "*videos* (images at the image level), taken as independent"
        )
        + ", stratified so both classes stay present. With few clusters no resampling CI is "
        f"reliable: a level with fewer than {min_per_class} clusters of either class shows "
        "point estimates only (`small_n` in metrics.tsv).",
        "- p: two-sided paired bootstrap on the same resamples; `p Holm` corrects the "
        f"{len(family) or 3} ensemble-vs-RGB tests of a level for multiple comparisons "
        "(Holm), and the verdicts above use it. DeLong: the analytic test of two correlated "
        "AUCs, which treats every row as independent (optimistic at the frame level).",
        "- ACC thresholds the probability at 0.5; EER is the error where false-positive and "
        "false-negative rates meet.",
        "- Files: `metrics.tsv`, `comparison.tsv`, `shortcuts.tsv`, `roc.png`, `predictions/` "
        "(per frame), `models/` (safetensors + meta.json), `tensorboard/` (training curves), "
        "`rejected.tsv` (inputs refused, with reasons).",
        "",
    ]
    with atomic_open(path) as f:
        f.write("\n".join(lines))
