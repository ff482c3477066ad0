"""The ``unrender`` CLI: one clear line and exit 2 for what a user can get wrong."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import write_clip, write_huge_png
from unrender import cli
from unrender.io import read_image, write_image


def _fails_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"unrender {argv[0]}: ") and message in err, err
    return err


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    write_clip(path, 6)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    write_image(path, np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8))
    return path


def test_out_pointing_at_a_file_or_folder(
    tmp_path: Path, clip: Path, image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    _fails_with_one_line(["extract", str(clip), "--out", str(a_file)], "is a file", capsys)
    _fails_with_one_line(
        ["decompose", str(image), "--out", str(a_file / "sub")], "is a file", capsys
    )
    (tmp_path / "root").mkdir()
    argv = ["manifest", "--dataset", "folder", "--root", str(tmp_path / "root")]
    _fails_with_one_line([*argv, "--out", str(tmp_path)], "is a folder", capsys)


def test_extract_size_is_capped(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["extract", str(clip), "--out", str(tmp_path / "o"), "--size", "100000"]
    _fails_with_one_line(argv, "4096", capsys)


@pytest.mark.parametrize("command,name", [("extract", "pipe.mp4"), ("decompose", "pipe.png")])
def test_a_fifo_is_refused_without_opening_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: never
    argv = [command, str(fifo), "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_debug_shows_the_traceback(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["extract", str(clip), "--out", str(tmp_path / "o"), "--size", "0"]
    with pytest.raises(ValueError, match="frames.size"):
        cli.main(["--debug", *argv])
    with pytest.raises(ValueError, match="frames.size"):
        cli.main([*argv, "--debug"])
    monkeypatch.setenv("UNRENDER_DEBUG", "1")
    with pytest.raises(ValueError, match="frames.size"):
        cli.main(argv)
    monkeypatch.setenv("UNRENDER_DEBUG", "0")
    assert cli.main(argv) == 2


def test_an_unexpected_error_is_one_line_asking_for_a_report(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from unrender.commands import extract

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("something\nwent wrong")

    monkeypatch.setattr(extract, "take_frames", broken)
    err = _fails_with_one_line(
        ["extract", str(clip), "--out", str(tmp_path / "o")], "TypeError: something went", capsys
    )
    assert "--debug" in err

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(extract, "take_frames", interrupted)
    assert cli.main(["extract", str(clip), "--out", str(tmp_path / "o")]) == 130
    assert capsys.readouterr().err == "unrender extract: interrupted\n"
    assert cli.describe(FileNotFoundError(2, "No such file", "x.tsv")) == "x.tsv: No such file"


def test_decompose_caps_pixels_before_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.png"
    write_huge_png(huge, 20000, 20000)  # a few KB, 400 Mpx
    out = tmp_path / "out"
    _fails_with_one_line(["decompose", str(huge), "--out", str(out)], "exceeds max_pixels", capsys)
    small = ["decompose", str(huge), "--out", str(out), "--max-pixels", "100"]
    _fails_with_one_line(small, "max_pixels=100", capsys)
    assert not out.exists()


def test_decompose_writes_all_or_nothing(
    tmp_path: Path, image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(image.read_bytes()[:40])
    out = tmp_path / "out"
    argv = ["decompose", str(image), str(broken), "--out", str(out)]
    _fails_with_one_line(argv, "nothing was written", capsys)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert cli.main(["decompose", str(image), "--out", str(out)]) == 0
    assert (out / "albedo" / "face.png").is_file()


def test_decompose_composites_alpha_as_extract_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cv2

    rng = np.random.default_rng(1)
    bgra = rng.integers(0, 256, (48, 48, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    cv2.imwrite(str(tmp_path / "black.png"), np.zeros((48, 48, 3), np.uint8))
    extract = ["extract", str(tmp_path / "rgba.png"), "--out", str(tmp_path / "x")]
    assert cli.main([*extract, "--no-resize"]) == 0
    composited = read_image(tmp_path / "x" / "0.png")
    write_image(tmp_path / "composited.png", composited)
    out = tmp_path / "out"
    argv = ["decompose", str(tmp_path / "rgba.png"), str(tmp_path / "composited.png")]
    assert cli.main([*argv, "--out", str(out)]) == 0
    for modality in ("albedo", "shading", "normal"):
        np.testing.assert_array_equal(
            read_image(out / modality / "rgba.png"), read_image(out / modality / "composited.png")
        )


def _shard(tmp_path: Path) -> tuple[Path, Path]:
    """A shard of two samples with 3 and 2 frames of a real photo: its TSV and frame folder."""
    from skimage import data

    from unrender.manifest import Sample, write_samples

    photo = data.astronaut()
    frames = tmp_path / "frames" / "s0000"
    samples = []
    for n, sample_id in ((3, "a"), (2, "b")):
        samples.append(Sample(sample_id, f"{sample_id}.mp4", 0, sample_id, "train", "video", "t"))
        for k in range(n):
            write_image(frames / sample_id / f"{k}.png", photo[40 * k : 40 * k + 64, 150:214])
    tsv = tmp_path / "shards" / "s0000.tsv"
    tsv.parent.mkdir()
    write_samples(tsv, samples)
    return tsv, frames


def test_decompose_shard_batches_across_samples_as_images_one_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unrender.modalities import MODALITIES

    tsv, frames = _shard(tmp_path)
    argv = ["decompose", "--shard", str(tsv), "--frames", str(frames), "--batch-size", "2"]
    # No --threads: in this process it would set torch's thread count for later tests.
    assert cli.main([*argv, "--out", str(tmp_path / "mod")]) == 0
    assert "decomposed 5 frames with backend classical" in capsys.readouterr().out
    for sample_id in ("a", "b"):
        images = sorted((frames / sample_id).glob("*.png"))
        alone = tmp_path / "alone" / sample_id
        assert cli.main(["decompose", *map(str, images), "--out", str(alone)]) == 0
        for modality in MODALITIES:
            written = sorted((tmp_path / "mod" / modality / "s0000" / sample_id).glob("*.png"))
            assert [p.name for p in written] == [p.name for p in images]
            for path in written:
                expected = read_image(alone / modality / path.name)
                np.testing.assert_array_equal(read_image(path), expected)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "{frames}"], "give the images to decompose, or --shard TSV --frames DIR"),
        (["--shard", "{tsv}"], "--shard needs --frames DIR"),
        (["{tsv}", "--shard", "{tsv}", "--frames", "{frames}"], "give images or --shard, not both"),
        (["--shard", "{tsv}", "--frames", "{tsv}.missing"], "not found: "),
        (["--shard", "{tsv}", "--frames", "{frames}", "--batch-size", "0"], "batch_size: 0 is"),
        (["--shard", "{tsv}", "--frames", "{frames}", "--threads", "0"], "--threads 0: must be"),
        (["--shard", "{tsv}", "--frames", "{frames}", "--max-pixels", "9"], "--max-pixels: only"),
    ],
)
def test_decompose_shard_refuses_bad_options_in_one_line(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tsv, frames = _shard(tmp_path)
    argv = [word.format(tsv=tsv, frames=frames) for word in extra]
    _fails_with_one_line(["decompose", *argv, "--out", str(tmp_path / "o")], message, capsys)
    assert not (tmp_path / "o").exists()
