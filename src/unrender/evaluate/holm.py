"""Holm's step-down correction of a family of p-values (Holm 1979).

It controls the family-wise error rate at any level alpha for any dependence between the
tests: sorted ascending, the i-th smallest of m p-values is multiplied by ``m - i + 1``, and
the adjusted values are made non-decreasing (a later p never drops below an earlier one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given, capped at 1.

    NaN p-values (tests that could not be run) stay NaN and are not counted in the family.
    """
    defined = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(defined):
        running = max(running, min(1.0, (len(defined) - rank) * p))
        out[i] = running
    return out
