"""The manifest format: validation reasons, positional shards, split_manifest outputs."""

from pathlib import Path

import pytest

from unrender import manifest, rejected
from unrender.io import write_tsv
from unrender.pipeline import split_manifest


def _row(sid: str, path: str, label: str = "0", kind: str = "video", split: str = "") -> dict:
    return {
        "sample_id": sid,
        "path": path,
        "label": label,
        "group": "g",
        "split": split,
        "kind": kind,
        "source": "t",
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.mp4", "b.mp4", "c.png", *(f"s{i}.mp4" for i in range(5))):
        (data / name).write_bytes(name.encode())  # distinct contents: distinct files
    (tmp_path / "outside.mp4").write_bytes(b"x")
    (data / "folder").mkdir()
    return data


def test_each_problem_has_its_reason(root: Path) -> None:
    rows = [
        _row("ok1", "a.mp4"),
        _row("ok2", "c.png", label="1", kind="image", split="test"),
        _row("dup", "a.mp4"),
        _row("dup", "b.mp4"),
        _row("badlabel", "a.mp4", label="2"),
        _row("badkind", "a.mp4", kind="audio"),
        _row("badsplit", "a.mp4", split="holdout"),
        _row("escape", "../outside.mp4"),
        _row("missing", "nope.mp4"),
        _row("dir", "folder"),
        _row("bad/id", "a.mp4"),
    ]
    samples, refusals = manifest.validate(rows, root)
    assert [s.sample_id for s in samples if s] == ["ok1", "ok2"]
    assert samples[1] == manifest.Sample("ok2", "c.png", 1, "g", "test", "image", "t")
    reasons = {(r.sample_id, r.path): r.reason for r in refusals}
    assert len(refusals) == len(rows) - 2
    assert all(r.stage == "manifest" for r in refusals)
    assert "duplicate sample_id" in reasons[("dup", "a.mp4")]
    assert "duplicate sample_id" in reasons[("dup", "b.mp4")]
    assert "label '2'" in reasons[("badlabel", "a.mp4")]
    assert "kind 'audio'" in reasons[("badkind", "a.mp4")]
    assert "split 'holdout'" in reasons[("badsplit", "a.mp4")]
    assert "escapes the dataset root" in reasons[("escape", "../outside.mp4")]
    assert "does not exist" in reasons[("missing", "nope.mp4")]
    assert "not a file" in reasons[("dir", "folder")]
    assert "sample_id 'bad/id'" in reasons[("bad/id", "a.mp4")]


def test_outside_root_allowed_when_configured(root: Path) -> None:
    samples, refusals = manifest.validate([_row("x", "../outside.mp4")], root, True)
    assert refusals == [] and samples[0] is not None


def test_missing_column_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    p.write_text("sample_id\tpath\n1\ta\n")
    with pytest.raises(ValueError, match=r"m\.tsv.*label"):
        manifest.read(p)


def test_shards_are_positional_blocks(root: Path, tmp_path: Path) -> None:
    rows = [_row(f"s{i}", f"s{i}.mp4") for i in range(5)]
    rows[1]["label"] = "x"  # refused: the block boundaries must not move
    m = tmp_path / "manifest.tsv"
    write_tsv(m, rows, manifest.COLUMNS)
    assert manifest.count_rows(m) == 5
    assert manifest.shard_ids(5, 2) == ["s0000", "s0001", "s0002"]
    shards = [tmp_path / f"{s}.tsv" for s in manifest.shard_ids(5, 2)]
    counts = split_manifest(m, root, shards, tmp_path / "rej.tsv", 2)
    assert counts == (4, 1)
    got = [[s.sample_id for s in manifest.read_samples(p)] for p in shards]
    assert got == [["s0"], ["s2", "s3"], ["s4"]]
    assert [r.sample_id for r in rejected.read(tmp_path / "rej.tsv")] == ["s1"]


@pytest.mark.parametrize("shard_size", [1, 2, 7, 64])
@pytest.mark.parametrize("max_shards", [1, 3, 32])
def test_shards_grow_rather_than_pass_max_shards(shard_size: int, max_shards: int) -> None:
    for n_rows in range(1, 400):
        size = manifest.shard_size_for(n_rows, shard_size, max_shards)
        n_shards = len(manifest.shard_ids(n_rows, size))
        assert size >= shard_size and n_shards <= max_shards
        # The smallest such size: shard_size itself, or one less would pass max_shards.
        assert size == shard_size or len(manifest.shard_ids(n_rows, size - 1)) > max_shards
    assert manifest.shard_size_for(20_000, 64, 32) == 625


def test_shard_options_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="max_shards 0 must be >= 1"):
        manifest.shard_size_for(10, 4, 0)


def test_split_manifest_refuses_a_changed_manifest(root: Path, tmp_path: Path) -> None:
    m = tmp_path / "manifest.tsv"
    write_tsv(m, [_row("a", "a.mp4")], manifest.COLUMNS)
    with pytest.raises(ValueError, match="1 shards of 4, but 2 shard files"):
        split_manifest(m, root, [tmp_path / "x.tsv", tmp_path / "y.tsv"], tmp_path / "r.tsv", 4)


def test_a_header_only_manifest_has_no_rows(tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    write_tsv(p, [], manifest.COLUMNS)
    with pytest.raises(ValueError, match=r"m\.tsv: the manifest has no rows"):
        manifest.count_rows(p)


def test_count_and_read_agree_on_blank_lines(root: Path, tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    write_tsv(p, [_row(f"s{i}", f"s{i}.mp4") for i in range(3)], manifest.COLUMNS)
    lines = p.read_text().splitlines(keepends=True)
    p.write_text(lines[0] + lines[1] + "   \n" + "\r\n" + lines[2] + " \t \n" + lines[3])
    assert manifest.count_rows(p) == len(manifest.read(p)) == 3
    shards = [tmp_path / f"{s}.tsv" for s in manifest.shard_ids(3, 1)]
    assert split_manifest(p, root, shards, tmp_path / "rej.tsv", 1) == (3, 0)


def test_extra_columns_are_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = tmp_path / "m.tsv"
    write_tsv(p, [{**_row("a", "a.mp4"), "notes": "n"}], [*manifest.COLUMNS, "notes"])
    assert manifest.read(p) == [_row("a", "a.mp4")]
    assert "ignoring column(s) notes" in caplog.text


def test_long_sample_id_is_refused_with_its_length(root: Path) -> None:
    long_id = "x" * (manifest.MAX_SAMPLE_ID + 1)
    rows = [_row(long_id, "a.mp4"), _row("x" * manifest.MAX_SAMPLE_ID, "b.mp4")]
    samples, refusals = manifest.validate(rows, root)
    assert samples[1] is not None
    assert [(r.sample_id, r.stage) for r in refusals] == [(long_id, "manifest")]
    assert f"{manifest.MAX_SAMPLE_ID + 1} characters long" in refusals[0].reason


def test_one_file_under_two_rows_keeps_the_first_valid_one(root: Path) -> None:
    (root / "link.mp4").symlink_to(root / "a.mp4")
    (root / "hard.mp4").hardlink_to(root / "b.mp4")
    (root / "copy.mp4").write_bytes((root / "s0.mp4").read_bytes())
    rows = [
        _row("bad", "a.mp4", label="7"),  # refused for its label: it does not claim a.mp4
        _row("first", "a.mp4", split="train"),
        _row("again", "./a.mp4", split="test"),
        _row("symlink", "link.mp4"),
        _row("b", "b.mp4"),
        _row("hardlink", "hard.mp4"),
        _row("s0", "s0.mp4"),
        _row("copy", "copy.mp4"),
    ]
    samples, refusals = manifest.validate(rows, root)
    assert [s.sample_id for s in samples if s] == ["first", "b", "s0"]
    reasons = {r.sample_id: r.reason for r in refusals}
    assert reasons.keys() == {"bad", "again", "symlink", "hardlink", "copy"}
    assert reasons["again"].startswith("the same file of sample_id 'first'")
    assert reasons["symlink"].startswith("the same file of sample_id 'first'")
    assert reasons["hardlink"].startswith("a hard link to the file of sample_id 'b'")
    assert reasons["copy"].startswith("a file identical to the file of sample_id 's0'")


def test_two_empty_files_are_not_one_file(root: Path) -> None:
    """Zero-byte files are all "identical", but hold no video that could leak: both pass
    here, to be refused for being empty when their frames are read."""
    (root / "empty1.mp4").write_bytes(b"")
    (root / "empty2.mp4").write_bytes(b"")
    samples, refusals = manifest.validate(
        [_row("e1", "empty1.mp4"), _row("e2", "empty2.mp4")], root
    )
    assert [s.sample_id for s in samples if s] == ["e1", "e2"] and refusals == []


def test_fingerprint_sees_both_ends_of_a_large_file(tmp_path: Path) -> None:
    block = manifest.FINGERPRINT_BLOCK
    body = bytes(3 * block)
    (tmp_path / "a").write_bytes(body)
    (tmp_path / "b").write_bytes(body[:-1] + b"\x01")
    (tmp_path / "c").write_bytes(body[:block] + b"\x01" + body[block + 1 :])
    a, b, c = (manifest.fingerprint(tmp_path / n) for n in "abc")
    assert a != b  # the last block differs
    assert a == c  # the middle is not read: cheap, and said so in the docstring


def test_only_files_of_a_shared_size_are_read(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[Path] = []
    real = manifest.fingerprint
    monkeypatch.setattr(manifest, "fingerprint", lambda p: read.append(p) or real(p))
    rows = [_row("a", "a.mp4"), _row("s1", "s1.mp4"), _row("s2", "s2.mp4")]
    samples, refusals = manifest.validate(rows, root)
    assert refusals == [] and all(samples)
    assert sorted(p.name for p in read) == ["s1.mp4", "s2.mp4"]  # 6 bytes each; a.mp4 has 5
