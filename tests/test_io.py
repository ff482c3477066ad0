"""Atomic writes leave either the old file or the new one, never a partial file."""

from pathlib import Path

import numpy as np
import pytest

from unrender.io import atomic_open, read_image, read_tsv, write_image, write_tsv


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(p) as f:
        f.write("half")
        raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["out.txt"]


def test_tsv_and_image_round_trip(tmp_path: Path) -> None:
    write_tsv(tmp_path / "a" / "t.tsv", [{"x": 1, "y": "b"}, {"x": 2}], ["x", "y"])
    assert read_tsv(tmp_path / "a" / "t.tsv") == [{"x": "1", "y": "b"}, {"x": "2", "y": ""}]
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_image(tmp_path / "i.png", rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "i.png"), rgb)
    with pytest.raises(TypeError):
        write_image(tmp_path / "f.png", rgb.astype(np.float32))


def test_results_follow_the_umask_so_colleagues_can_read_them(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        write_tsv(tmp_path / "shared.tsv", [{"x": 1}], ["x"])
        os.umask(0o077)
        write_tsv(tmp_path / "private.tsv", [{"x": 1}], ["x"])
    finally:
        os.umask(old)
    assert (tmp_path / "shared.tsv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.tsv").stat().st_mode & 0o777 == 0o600


def test_tsv_quotes_are_ordinary_characters_both_ways(tmp_path: Path) -> None:
    rows = [{"a": '"start', "b": 'mid"dle'}, {"a": "next", "b": '""'}]
    write_tsv(tmp_path / "q.tsv", rows, ["a", "b"])
    assert (tmp_path / "q.tsv").read_text() == 'a\tb\n"start\tmid"dle\nnext\t""\n'
    assert read_tsv(tmp_path / "q.tsv") == rows
    with pytest.raises(ValueError, match="tab or line break"):
        write_tsv(tmp_path / "t.tsv", [{"a": "x\ty"}], ["a"])


def test_tsv_bom_crlf_and_blank_lines_are_read_alike(tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    p.write_bytes(b"\xef\xbb\xbfa\tb\r\n1\t2\r\n   \r\n\r\n\t\n3\t4\n")
    assert read_tsv(p) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a\tb\n1\t\xe9t\xe9\n", r"m\.tsv: line 2 is not UTF-8"),
        (b"a\ta\n1\t2\n", r"m\.tsv: column\(s\) a named twice"),
        (b"a\tb\n1\t2\t3\n", r"m\.tsv: line 2 has 3 tab-separated fields, the header has 2"),
        (b"", r"m\.tsv: empty file"),
    ],
)
def test_malformed_tsv_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "m.tsv"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_tsv(p)
