"""Celeb-DF (v2) as manifest rows.

Layout under the dataset root::

    Celeb-real/idX_NNNN.mp4           real: video NNNN of celebrity X
    YouTube-real/NNNNN.mp4            real: other YouTube videos
    Celeb-synthesis/idX_idY_NNNN.mp4  fake: Celeb-real/idX_NNNN with the face of celebrity Y
    List_of_testing_videos.txt        the official test set, one "LABEL PATH" a line

In ``List_of_testing_videos.txt`` the label is **1 for real and 0 for fake** (the inverse of
the manifest's), e.g. ``1 YouTube-real/00170.mp4`` and ``0 Celeb-synthesis/id1_id0_0007.mp4``;
a label that disagrees with the folder is an error.

**Groups.** The target identity: ``celebdf_idX`` holds every Celeb-real video of celebrity X
and every fake made from one of them, so no video of X's is on two sides of a split through
its fakes. (A fake also shows the face of Y, whose videos are in group ``celebdf_idY``;
joining the two would chain most celebrities into one group.) Each YouTube-real video is
its own group.

**Splits.** Videos on the test list are ``test``; the others get an empty split, and the
workflow's seeded group split puts them in train and val (never test: a dataset that names
its test split keeps it, :func:`unrender.train.splits.assign_splits`). The official test list
shares identities with the other videos, and some of its fakes were made from videos that
are not on it: that is the published protocol, kept as it is. So a listed video of celebrity
X is in group ``celebdf_test_idX`` (the test split's bootstrap clusters are identities), apart
from X's other videos in ``celebdf_idX``; in the one group they would all have followed the
listed ones into test, leaving train with almost no Celeb-synthesis fake.
"""

from __future__ import annotations

import re
from pathlib import Path

from unrender.datasets.common import check_unique, root_relative, row

TEST_LIST = "List_of_testing_videos.txt"
#: folder -> (file stem pattern, label, what a name looks like)
FOLDERS: dict[str, tuple[re.Pattern[str], int, str]] = {
    "Celeb-real": (re.compile(r"(id\d+)_\d+"), 0, "idX_NNNN.mp4"),
    "YouTube-real": (re.compile(r"(\d+)"), 0, "NNNNN.mp4"),
    "Celeb-synthesis": (re.compile(r"(id\d+)_id\d+_\d+"), 1, "idX_idY_NNNN.mp4"),
}


def read_test_list(path: Path) -> dict[str, tuple[int, int]]:
    """Root-relative video path -> (manifest label: 0 real, 1 fake; line number) of the list."""
    tests: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[0] not in ("0", "1"):
            raise ValueError(
                f"{path}: line {number}: want 'LABEL PATH' with LABEL 1 (real) or 0 (fake), "
                f"got {line!r}"
            )
        tests[fields[1]] = (1 - int(fields[0]), number)
    return tests


def _describe(rel: str, where: str) -> tuple[str, int, str, str]:
    """(sample_id, label, group, folder) of one video path; ValueError naming ``where``."""
    folder, _, name = rel.partition("/")
    if folder not in FOLDERS or "/" in name or not name.endswith(".mp4"):
        raise ValueError(f"{where}: {rel!r} is not a video of {', '.join(FOLDERS)}")
    pattern, label, want = FOLDERS[folder]
    match = pattern.fullmatch(name[: -len(".mp4")])
    if match is None:
        raise ValueError(f"{where}: {rel!r} is not a Celeb-DF name (want {folder}/{want})")
    stem = name[: -len(".mp4")]
    if folder == "YouTube-real":
        return f"celebdf_youtube_{stem}", label, f"celebdf_youtube_{stem}", folder
    kind = "real" if label == 0 else "fake"
    return f"celebdf_{kind}_{stem}", label, f"celebdf_{match[1]}", folder


def build(root: str | Path, test_list: str = TEST_LIST) -> list[dict[str, str]]:
    """Manifest rows of Celeb-DF v2: every video on disk or on the test list, sorted by path.

    test_list: the official test list relative to the root (``""``: no test split).
    """
    root = Path(root)
    on_disk = {
        root_relative(root, p): str(p) for folder in FOLDERS for p in (root / folder).glob("*.mp4")
    }
    tests: dict[str, tuple[int, int]] = {}
    list_path = root / test_list if test_list else None
    if list_path is not None:
        if not list_path.is_file():
            raise ValueError(f"{list_path} does not exist; set test_list to '' for no test split")
        tests = read_test_list(list_path)
    if not on_disk and not tests:
        raise ValueError(f"no videos in {', '.join(FOLDERS)} under {root}")
    rows = []
    for rel in sorted(on_disk.keys() | tests.keys()):
        where = on_disk.get(rel) or f"{list_path}: line {tests[rel][1]}"
        sample_id, label, group, folder = _describe(rel, where)
        if rel in tests and tests[rel][0] != label:
            listed, number = tests[rel]
            raise ValueError(
                f"{list_path}: line {number}: {rel} is listed as "
                f"{'real' if listed == 0 else 'fake'} but lies in {folder}"
            )
        split = "test" if rel in tests else ""
        if split and folder != "YouTube-real":  # its own group already
            group = group.replace("celebdf_", "celebdf_test_", 1)
        rows.append(row(sample_id, rel, label, group, split, "video", f"celebdf/{folder}"))
    check_unique(rows)
    return rows
