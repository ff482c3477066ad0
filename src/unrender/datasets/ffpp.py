"""FaceForensics++ (and its DeepFakeDetection part) as manifest rows.

Layout under the dataset root::

    original_sequences/youtube/{raw,c23,c40}/videos/NNN.mp4                  real, 1000 videos
    original_sequences/actors/{raw,c23,c40}/videos/AA__scene.mp4              real (DFD actors)
    manipulated_sequences/<method>/{raw,c23,c40}/videos/TTT_SSS.mp4           fake: target TTT,
                                                                              face of SSS
    manipulated_sequences/DeepFakeDetection/<c>/videos/AA_BB__scene__HASH.mp4  fake: actor AA,
                                                                              face of BB
    splits/{train,val,test}.json         official splits: [["953", "974"], ...] pairs

**Groups.** Videos are the nodes of a graph; a fake joins its target and its source
(``TTT_SSS`` joins ``TTT`` and ``SSS``), and an official split pair joins its two ids. A
group is a connected component, named after its sorted ids (``ffpp_000_003``), and holds
each original with every fake that shows any of its pixels or its face. Components are
transitive by construction, so no original and none of its fakes can land in different
splits. In the official data every id is in exactly one pair and fakes are made only
within a pair, so each group is that pair: 2 originals and 2 fakes per method. The actors
of DeepFakeDetection swap faces with many others, so their graph may form few, large groups.

**Splits.** A pair in ``splits/<split>.json`` puts both ids, and so their whole group, in
that split; a group that touches two splits is an error. Groups that no split file names
get an empty split (the workflow's seeded group split decides).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from unrender.datasets.common import load_json, root_relative, row

log = logging.getLogger(__name__)

COMPRESSIONS: tuple[str, ...] = ("raw", "c23", "c40")
ORIGINALS: tuple[str, ...] = ("youtube", "actors")
DFD_METHOD = "DeepFakeDetection"
SPLITS: tuple[str, ...] = ("train", "val", "test")

# Node ids: "NNN" for youtube videos, "aNN" for DFD actors (their ids are 2 digits).
_YOUTUBE = re.compile(r"(\d{3})")
_YOUTUBE_FAKE = re.compile(r"(\d{3})_(\d{3})")
_ACTOR = re.compile(r"(\d{2})__[A-Za-z0-9_-]+?")
_ACTOR_FAKE = re.compile(r"(\d{2})_(\d{2})__[A-Za-z0-9_-]+?__[A-Za-z0-9]+")


class _Components:
    """Union-find over video ids: which ids end up in one group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]  # path halving
            node = self.parent[node]
        return node

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def members(self) -> dict[str, list[str]]:
        """Root -> sorted member ids of every component."""
        out: dict[str, list[str]] = {}
        for node in sorted(self.parent):
            out.setdefault(self.find(node), []).append(node)
        return out


def _videos(folder: Path, pattern: re.Pattern[str], want: str) -> list[tuple[Path, re.Match]]:
    """The .mp4 files of ``folder`` with their name matches; ValueError on a foreign name."""
    found = []
    for path in sorted(folder.glob("*.mp4")):
        match = pattern.fullmatch(path.stem)
        if match is None:
            raise ValueError(f"{path}: not a FaceForensics++ file name (want {want})")
        found.append((path, match))
    return found


def read_splits(splits_dir: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Video id -> split, and the id pairs, from ``splits_dir/{train,val,test}.json``.

    Each file (those present) is a JSON list of id pairs, e.g. ``[["953", "974"], ...]``.
    ValueError naming the file and item for anything else, or for an id listed twice.
    """
    split_of: dict[str, str] = {}
    where: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for split in SPLITS:
        path = splits_dir / f"{split}.json"
        if not path.is_file():
            continue
        items = load_json(path)
        if not isinstance(items, list):
            raise ValueError(f"{path}: want a JSON list of id pairs, got {type(items).__name__}")
        for i, pair in enumerate(items):
            ok = isinstance(pair, list) and len(pair) == 2
            if not ok or not all(isinstance(v, str) and _YOUTUBE.fullmatch(v) for v in pair):
                raise ValueError(
                    f'{path}: item {i}: want a pair of 3-digit ids like ["953", "974"], '
                    f"got {pair!r}"
                )
            for vid in pair:
                if vid in split_of:
                    raise ValueError(
                        f"{path}: item {i}: id {vid} is already listed in {where[vid]}"
                    )
                split_of[vid], where[vid] = split, f"{path} (item {i})"
            pairs.append((pair[0], pair[1]))
    return split_of, pairs


def build(
    root: str | Path,
    compression: str = "c23",
    methods: Sequence[str] | None = None,
    originals: Sequence[str] | None = None,
    splits_dir: str | Path | None = None,
) -> list[dict[str, str]]:
    """Manifest rows of FaceForensics++ at one ``compression``.

    methods: folders of ``manipulated_sequences`` to take (default: every one that has this
    compression). originals: folders of ``original_sequences`` (default ``youtube``, plus
    ``actors`` when DeepFakeDetection is among the methods). splits_dir: the official split
    files (default ``root/splits``; missing: every split empty).
    Rows: originals first, then each method, each sorted by file name.
    """
    root = Path(root)
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    manipulated = root / "manipulated_sequences"
    if methods is None:
        methods = sorted(
            p.name for p in manipulated.glob("*") if (p / compression / "videos").is_dir()
        )
    if originals is None:
        originals = ["youtube", *(["actors"] if DFD_METHOD in methods else [])]
    for name in originals:
        if name not in ORIGINALS:
            raise ValueError(f"original {name!r} is not one of {', '.join(ORIGINALS)}")

    found: list[tuple[str, Path, int, str, tuple[str, ...]]] = []  # id, path, label, src, nodes
    for name in originals:
        folder = root / "original_sequences" / name / compression / "videos"
        if not folder.is_dir():
            raise ValueError(f"{folder} does not exist: is {root} a FaceForensics++ root?")
        pattern = _YOUTUBE if name == "youtube" else _ACTOR
        for path, m in _videos(folder, pattern, "NNN.mp4" if name == "youtube" else "AA__scene"):
            node = m[1] if name == "youtube" else f"a{m[1]}"
            found.append((f"ffpp_{name}_{path.stem}", path, 0, name, (node,)))
    for method in methods:
        folder = manipulated / method / compression / "videos"
        if not folder.is_dir():
            raise ValueError(f"{folder} does not exist: no {method} videos at {compression}")
        dfd = method == DFD_METHOD
        pattern = _ACTOR_FAKE if dfd else _YOUTUBE_FAKE
        for path, m in _videos(folder, pattern, "AA_BB__scene__HASH" if dfd else "TTT_SSS.mp4"):
            nodes = (f"a{m[1]}", f"a{m[2]}") if dfd else (m[1], m[2])
            found.append((f"ffpp_{method}_{path.stem}", path, 1, method, nodes))
    if not found:
        raise ValueError(f"no FaceForensics++ videos at {compression} under {root}")

    splits_dir = Path(splits_dir) if splits_dir is not None else root / "splits"
    split_of, pairs = read_splits(splits_dir)
    if not split_of:
        log.info("no split files in %s: every split left empty", splits_dir)
    groups = _Components()
    for _, _, _, _, nodes in found:
        groups.join(nodes[0], nodes[-1])
    for a, b in pairs:
        groups.join(a, b)

    group_name: dict[str, str] = {}
    group_split: dict[str, str] = {}
    for head, members in groups.members().items():
        group_name[head] = "ffpp_" + "_".join(members)
        splits = {split_of[m] for m in members if m in split_of}
        if len(splits) > 1:
            raise ValueError(
                f"ids {', '.join(members)} are linked by fakes but split across "
                f"{', '.join(sorted(splits))} in {splits_dir}: the split files disagree"
            )
        group_split[head] = splits.pop() if splits else ""

    return [
        row(
            sample_id,
            root_relative(root, path),
            label,
            group_name[groups.find(nodes[0])],
            group_split[groups.find(nodes[0])],
            "video",
            f"ffpp/{source}/{compression}",
        )
        for sample_id, path, label, source, nodes in found
    ]
