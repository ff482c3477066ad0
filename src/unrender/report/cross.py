"""summary.md's cross-dataset section, from cross.tsv, laid out the way the field prints it.

One AUC table per level (video first): rows = models, columns = the target runs in the
config's order, plus ``avg``, the unweighted mean of the targets' AUCs (point estimates; no CI:
the targets are different populations). Then the ensembles vs RGB on each target, the
``p_holm`` of cross.tsv. A target whose level has too few clusters per class prints point
estimates only, as the run's own tables do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from unrender.report.summary import _ci, _num, clusters, is_small, size, too_small

#: The levels of the tables, in the order they are printed.
LEVEL_ORDER: tuple[str, ...] = ("video", "image", "frame")


def _targets(rows: Sequence[Mapping[str, str]]) -> list[str]:
    return list(dict.fromkeys(r["target"] for r in rows))


def _delta_cell(row: Mapping[str, str]) -> str:
    delta = _num(row["delta_auc"])
    if math.isnan(delta):
        return "n/a"
    if is_small(row):
        return f"{delta:+.3f}"
    lo, hi, p = (_num(row[c]) for c in ("delta_lo", "delta_hi", "p_holm"))
    return f"{delta:+.3f} [{lo:+.3f}, {hi:+.3f}], p Holm {p:.3g}"


def cross_lines(rows: Sequence[Mapping[str, str]], run: str, min_per_class: int) -> list[str]:
    """The markdown lines of the section (empty without rows); rows: cross.tsv's."""
    if not rows:
        return []
    targets = _targets(rows)
    lines = [
        "## Cross-dataset AUC (evaluate.cross)",
        "",
        f"The models of run `{run}`, unchanged, on other runs' data: each target's official "
        "test list where its manifest has one (split `test`), else the whole dataset; every "
        "extracted frame (README, 'Cross-dataset protocol'). `avg` is the mean of the "
        "targets' AUCs. Numbers in `cross.tsv`.",
        "",
    ]
    for level in LEVEL_ORDER:
        at = {(r["target"], r["model"]): r for r in rows if r["level"] == level}
        if not at:
            continue
        present = [t for t in targets if any(key[0] == t for key in at)]
        models = list(dict.fromkeys(model for _, model in at))
        lines += [f"### {level} level", ""]
        for t in present:
            first = next(r for (target, _), r in at.items() if target == t)
            note = f"bootstrap over {clusters(first)}"
            if is_small(first):
                note = f"**{too_small(first, min_per_class)}**: point estimates only"
            lines.append(f"- `{t}`: {size(first)}; {note}.")
        lines += [
            "",
            "| model | " + " | ".join(present) + " | avg |",
            "|---|" + "---|" * (len(present) + 1),
        ]
        for model in models:
            cells = [_ci(at[(t, model)], "auc") if (t, model) in at else "" for t in present]
            aucs = [_num(at[(t, model)]["auc"]) for t in present if (t, model) in at]
            avg = sum(aucs) / len(aucs) if aucs else math.nan
            mean = "n/a" if math.isnan(avg) else f"{avg:.3f}"
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {mean} |")
        compared = [m for m in models if any(at.get((t, m), {}).get("delta_auc") for t in present)]
        if compared:
            small = {is_small(at[(t, m)]) for t in present for m in compared if (t, m) in at}
            caption = "ΔAUC vs RGB [95% CI], paired bootstrap, Holm over the ensembles of a target"
            if small == {True}:
                caption = "ΔAUC vs RGB, point estimates only (n too small for CIs and p-values)"
            elif True in small:
                caption += " (point estimates only where n is too small)"
            lines += [
                "",
                f"{caption}:",
                "",
                "| ensemble | " + " | ".join(present) + " |",
                "|---|" + "---|" * len(present),
            ]
            for model in compared:
                cells = [_delta_cell(at[(t, model)]) if (t, model) in at else "" for t in present]
                lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
