"""Seed specs, job blocks of seeds, and the file name of each seed's image.

A seed spec is a comma separated list of items, each a seed ``N`` or an inclusive range
``A-B`` (``A <= B``), e.g. ``"5000-10000"`` (5001 seeds) or ``"0-9,42"`` (11 seeds). This
extends upstream ``generate.py``, which takes either one range or one list, never both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: numpy.random.RandomState takes seeds in [0, 2**32).
MAX_SEED = 2**32 - 1
_ITEM = re.compile(r"(\d+)(?:-(\d+))?")


def parse_seeds(spec: str | int) -> list[int]:
    """The seeds of ``spec`` in the given order, each once (later repeats are dropped).

    Raises ValueError naming the bad item for empty items, non-numbers, negative seeds,
    descending ranges (``"10-5"``) and seeds of 2**32 or more.
    """
    text = str(spec).strip()
    if not text:
        raise ValueError("empty seed spec; write e.g. '5000-10000' or '0-9,42'")
    seeds: dict[int, None] = {}  # an ordered set
    for item in (part.strip() for part in text.split(",")):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise ValueError(
                f"seed spec {text!r}: item {item!r} is not a seed N or an inclusive range A-B "
                "of non-negative integers"
            )
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise ValueError(
                f"seed spec {text!r}: range {item!r} runs backwards; write {last}-{first}"
            )
        if last > MAX_SEED:
            raise ValueError(f"seed spec {text!r}: seed {last} is above {MAX_SEED} (2**32 - 1)")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


def seed_blocks(seeds: Sequence[int], per_block: int) -> dict[str, list[int]]:
    """Consecutive blocks of ``per_block`` seeds, named ``b0000, b0001, ...`` (one job each)."""
    if per_block < 1:
        raise ValueError(f"seeds per block must be >= 1, got {per_block}")
    return {
        f"b{i:04d}": list(seeds[start : start + per_block])
        for i, start in enumerate(range(0, len(seeds), per_block))
    }


def image_name(seed: int) -> str:
    """File name of a seed's image, as upstream writes it: ``seed%04d.png`` (5 → seed0005.png)."""
    return f"seed{seed:04d}.png"
