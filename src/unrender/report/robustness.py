"""summary.md's laundering section (``evaluate.perturb``), from robustness.tsv.

Per level (video first): the test split's size and bootstrap clusters (every perturbation
scores the same test samples), then two tables with one column per perturbation in the
config's order. The first gives each model's AUC, ``none`` being the clean test split; the
second gives the study's question, ``delta_vs_rgb``: a model's change in AUC under the
perturbation minus RGB's change on the same bootstrap draws (above zero, it keeps more of its
AUC than RGB does). A level with too few clusters per class prints point estimates only, as
the run's own tables do. The intervals are per cell, uncorrected (module docstring of
:mod:`unrender.evaluate.robustness`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from unrender.evaluate.run import BASELINE
from unrender.perturb import CLEAN
from unrender.report.summary import _ci, _num, clusters, is_small, size, too_small

#: The levels of the tables, in the order they are printed.
LEVEL_ORDER: tuple[str, ...] = ("video", "image", "frame")


def _signed(row: Mapping[str, str], column: str) -> str:
    """``"+0.012 [-0.030, +0.051]"``: a signed difference with its interval (point only when
    the row's level is too small for intervals)."""
    point = _num(row[column])
    if math.isnan(point):
        return "n/a"
    if is_small(row):
        return f"{point:+.3f}"
    lo, hi = (_num(row[f"{column}_{end}"]) for end in ("lo", "hi"))
    return f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def robustness_lines(rows: Sequence[Mapping[str, str]], min_per_class: int) -> list[str]:
    """The markdown lines of the section (empty without rows); rows: robustness.tsv's."""
    if not rows:
        return []
    names = list(dict.fromkeys(r["perturbation"] for r in rows))
    perturbed = [n for n in names if n != CLEAN]
    lines = [
        "## Robustness to laundering (evaluate.perturb)",
        "",
        "Every model re-scored on the test split's frames after each perturbation, decomposed "
        "again (README, 'Laundering robustness'); `none` is the clean test split, whose AUCs "
        "are the metrics tables'. Numbers, with each model's own paired change in AUC, in "
        "`robustness.tsv`.",
        "",
    ]
    for level in LEVEL_ORDER:
        at = {(r["perturbation"], r["model"]): r for r in rows if r["level"] == level}
        if not at:
            continue
        first = at[next(iter(at))]
        models = list(dict.fromkeys(model for _, model in at))
        lines += [f"### {level} level", ""]
        if all(math.isnan(_num(r["auc"])) for r in at.values()):
            lines += [f"{size(first)}: one class only, no AUC.", ""]
            continue
        small = is_small(first)
        note = f"bootstrap over {clusters(first)}"
        if small:
            note = f"**{too_small(first, min_per_class)}**: point estimates only"
        auc = "AUC" if small else "AUC [95% CI]"
        lines += [
            f"{size(first)}; {note}.",
            "",
            f"{auc} on the test split, clean (`none`) and perturbed:",
            "",
            "| model | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for model in models:
            cells = [_ci(at[(n, model)], "auc") if (n, model) in at else "" for n in names]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        interval = "" if small else " [95% CI of the paired draws]"
        lines += [
            "",
            f"Change in AUC minus RGB's change{interval}; above zero the model keeps more of "
            "its AUC than RGB does:",
            "",
            "| model | " + " | ".join(perturbed) + " |",
            "|---|" + "---|" * len(perturbed),
        ]
        for model in models:
            if model == BASELINE:
                continue
            cells = [
                _signed(at[(n, model)], "delta_vs_rgb") if (n, model) in at else ""
                for n in perturbed
            ]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "The intervals are per cell, with no correction for how many cells the tables have: "
        "read them as effect sizes, not as a family of tests.",
        "",
    ]
    return lines
