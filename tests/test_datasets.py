"""Dataset adapters on tiny generated layouts of FF++, DFDC, Celeb-DF and a labelled folder."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest

from unrender import manifest
from unrender.commands import manifest as manifest_command
from unrender.datasets import build_manifest, write_manifest
from unrender.datasets.common import root_relative, safe_id
from unrender.train.splits import assign_splits


def _touch(root: Path, rel: str) -> None:
    """A placeholder video: adapters list files, they never decode them. Its bytes are its
    name, so no two placeholders are one file to the manifest's duplicate check."""
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(rel.encode())


def _h264(path: Path, n_frames: int = 3) -> None:
    """A real 32x32 H.264 clip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(n_frames):
            frame = np.full((32, 32, 3), 40 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


def _by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["sample_id"]: r for r in rows}


def _assert_valid(rows: list[dict[str, str]], root: Path) -> None:
    """Every row passes the workflow's manifest check, and no group straddles two splits."""
    _, refusals = manifest.validate(rows, root)
    assert refusals == []
    splits = defaultdict(set)
    for r in rows:
        splits[r["group"]].add(r["split"])
    assert all(len(s) == 1 for s in splits.values()), splits


# --- FaceForensics++ -------------------------------------------------------------------


@pytest.fixture
def ffpp(tmp_path: Path) -> Path:
    root = tmp_path / "ffpp"
    for vid in ("000", "003", "010", "011", "020"):
        for c in ("c23", "c40"):
            _touch(root, f"original_sequences/youtube/{c}/videos/{vid}.mp4")
    for method in ("Deepfakes", "Face2Face"):
        for fake in ("000_003", "003_000", "010_011", "011_010"):
            _touch(root, f"manipulated_sequences/{method}/c23/videos/{fake}.mp4")
    _touch(root, "manipulated_sequences/FaceSwap/c40/videos/000_003.mp4")
    (root / "splits").mkdir()
    (root / "splits/train.json").write_text(json.dumps([["000", "003"]]))
    (root / "splits/test.json").write_text(json.dumps([["011", "010"]]))
    return root


def test_ffpp_groups_pairs_and_their_fakes_with_official_splits(ffpp: Path) -> None:
    _h264(ffpp / "original_sequences/youtube/c23/videos/000.mp4")
    rows = build_manifest("ffpp", ffpp, compression="c23")
    by_id = _by_id(rows)
    assert len(rows) == 5 + 2 * 4
    assert by_id["ffpp_youtube_000"] == {
        "sample_id": "ffpp_youtube_000",
        "path": "original_sequences/youtube/c23/videos/000.mp4",
        "label": "0",
        "group": "ffpp_000_003",
        "split": "train",
        "kind": "video",
        "source": "ffpp/youtube/c23",
    }
    fake = by_id["ffpp_Face2Face_011_010"]
    assert (fake["label"], fake["group"], fake["split"]) == ("1", "ffpp_010_011", "test")
    assert fake["path"] == "manipulated_sequences/Face2Face/c23/videos/011_010.mp4"
    assert (by_id["ffpp_youtube_020"]["group"], by_id["ffpp_youtube_020"]["split"]) == (
        "ffpp_020",
        "",
    )
    # Originals first, then methods in order: the shards stay put when a method is added.
    assert [r["label"] for r in rows] == ["0"] * 5 + ["1"] * 8
    _assert_valid(rows, ffpp)


def test_ffpp_compression_and_methods_choose_the_folders(ffpp: Path) -> None:
    rows = build_manifest("ffpp", ffpp, compression="c40")
    assert {r["source"] for r in rows} == {"ffpp/youtube/c40", "ffpp/FaceSwap/c40"}
    only = build_manifest("ffpp", ffpp, methods=["Deepfakes"])
    assert {r["source"] for r in only if r["label"] == "1"} == {"ffpp/Deepfakes/c23"}
    # The group of an original does not depend on which methods are taken.
    assert _by_id(only)["ffpp_youtube_003"]["group"] == "ffpp_000_003"
    with pytest.raises(ValueError, match="NeuralTextures/c23/videos does not exist"):
        build_manifest("ffpp", ffpp, methods=["NeuralTextures"])
    with pytest.raises(ValueError, match="compression 'c99'"):
        build_manifest("ffpp", ffpp, compression="c99")


def test_ffpp_without_split_files_links_groups_through_fakes(ffpp: Path) -> None:
    _touch(ffpp, "manipulated_sequences/Deepfakes/c23/videos/003_020.mp4")
    rows = build_manifest("ffpp", ffpp, splits_dir=ffpp / "nowhere")
    groups = {r["sample_id"]: r["group"] for r in rows}
    # 000-003 (pair) and 003-020 (a fake) chain into one transitive group.
    assert groups["ffpp_youtube_020"] == groups["ffpp_youtube_000"] == "ffpp_000_003_020"
    assert {r["split"] for r in rows} == {""}


def test_ffpp_deepfakedetection_brings_the_actors(tmp_path: Path) -> None:
    root = tmp_path / "ffpp"
    for name in ("01__kitchen_pan", "02__walking_outside", "03__hugging_happy"):
        _touch(root, f"original_sequences/actors/c23/videos/{name}.mp4")
    _touch(root, "original_sequences/youtube/c23/videos/000.mp4")
    _touch(
        root, "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__kitchen_pan__ABC123.mp4"
    )
    by_id = _by_id(build_manifest("ffpp", root))
    assert by_id["ffpp_actors_01__kitchen_pan"]["group"] == "ffpp_a01_a02"
    assert by_id["ffpp_DeepFakeDetection_01_02__kitchen_pan__ABC123"]["group"] == "ffpp_a01_a02"
    assert by_id["ffpp_actors_03__hugging_happy"]["group"] == "ffpp_a03"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[["000", "003"], ["010"]]', r"train.json: item 1: want a pair"),
        ('[["000", "003"],\n ["010", 11]]', r"train.json: item 1: want a pair"),
        ('{"000": "003"}', r"train.json: want a JSON list"),
        ('[["000", "003"]\n ["010", "011"]]', r"train.json: line 2: invalid JSON"),
        ('[["000", "003"], ["003", "010"]]', r"train.json: item 1: id 003 is already listed"),
    ],
)
def test_ffpp_malformed_split_file_names_file_and_item(
    ffpp: Path, content: str, message: str
) -> None:
    (ffpp / "splits/train.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        build_manifest("ffpp", ffpp)


def test_ffpp_split_files_that_disagree_with_the_fakes_are_refused(ffpp: Path) -> None:
    # 003_010 links the train pair (000, 003) to the test pair (010, 011): a leak.
    _touch(ffpp, "manipulated_sequences/Deepfakes/c23/videos/003_010.mp4")
    with pytest.raises(ValueError, match="split across test, train"):
        build_manifest("ffpp", ffpp)


def test_ffpp_foreign_file_name_is_named(ffpp: Path) -> None:
    _touch(ffpp, "manipulated_sequences/Deepfakes/c23/videos/000-003 copy.mp4")
    with pytest.raises(ValueError, match=r"000-003 copy.mp4: not a FaceForensics\+\+ file name"):
        build_manifest("ffpp", ffpp)


# --- DFDC -------------------------------------------------------------------------------


def _dfdc_part(root: Path, part: int, entries: dict[str, dict]) -> None:
    folder = root / f"dfdc_train_part_{part}"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(entries))
    for name in entries:
        _touch(folder, name)


@pytest.fixture
def dfdc(tmp_path: Path) -> Path:
    root = tmp_path / "dfdc"
    real = {"label": "REAL", "split": "train", "original": None}
    _dfdc_part(
        root,
        0,
        {
            "aaa.mp4": real,
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "ccc.mp4": real,
        },
    )
    _dfdc_part(root, 1, {"ddd.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}})
    (root / "test").mkdir()
    (root / "test/labels.csv").write_text("filename,label\nttt.mp4,1\nuuu.mp4,0\n")
    for name in ("ttt.mp4", "uuu.mp4"):
        _touch(root / "test", name)
    return root


def test_dfdc_groups_fakes_with_their_original_across_parts(dfdc: Path) -> None:
    rows = build_manifest("dfdc", dfdc)
    by_id = _by_id(rows)
    assert [r["sample_id"] for r in rows] == [
        "dfdc_aaa",
        "dfdc_bbb",
        "dfdc_ccc",
        "dfdc_ddd",
        "dfdc_ttt",
        "dfdc_uuu",
    ]
    assert by_id["dfdc_ddd"] == {
        "sample_id": "dfdc_ddd",
        "path": "dfdc_train_part_1/ddd.mp4",
        "label": "1",
        "group": "dfdc_aaa",
        "split": "train",
        "kind": "video",
        "source": "dfdc/dfdc_train_part_1",
    }
    assert by_id["dfdc_bbb"]["group"] == by_id["dfdc_aaa"]["group"] == "dfdc_aaa"
    assert by_id["dfdc_ccc"]["group"] == "dfdc_ccc"
    assert (by_id["dfdc_ttt"]["label"], by_id["dfdc_ttt"]["split"]) == ("1", "test")
    assert (by_id["dfdc_uuu"]["label"], by_id["dfdc_uuu"]["path"]) == ("0", "test/uuu.mp4")
    _assert_valid(rows, dfdc)
    assert [r["sample_id"] for r in build_manifest("dfdc", dfdc, parts=["dfdc_train_part_1"])][
        0
    ] == "dfdc_ddd"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"x.mp4": {"label": "MAYBE"}}, r"metadata.json: key 'x.mp4': label 'MAYBE'"),
        ({"x.mp4": {"label": "FAKE", "split": "dev"}}, r"key 'x.mp4': split 'dev'"),
        ({"x.mp4": {"label": "FAKE", "original": 3}}, r"key 'x.mp4': original 3"),
        ({"x.txt": {"label": "REAL"}}, r"key 'x.txt': want a file name"),
        ({"x.mp4": "REAL"}, r"key 'x.mp4': want an object"),
        ([1, 2], r"metadata.json: want a JSON object"),
    ],
)
def test_dfdc_malformed_metadata_names_file_and_key(
    tmp_path: Path, entries: object, message: str
) -> None:
    folder = tmp_path / "dfdc_train_part_7"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=message):
        build_manifest("dfdc", tmp_path)


def test_dfdc_bad_json_test_labels_and_duplicates_are_named(dfdc: Path) -> None:
    (dfdc / "test/labels.csv").write_text("filename,label\nttt.mp4,1\nuuu.mp4,maybe\n")
    with pytest.raises(ValueError, match=r"labels.csv: line 3: want a file name and a label"):
        build_manifest("dfdc", dfdc)
    (dfdc / "test/labels.csv").write_text("filename,label\naaa.mp4,1\n")
    with pytest.raises(ValueError, match="sample_id 'dfdc_aaa' is given to both"):
        build_manifest("dfdc", dfdc)
    _dfdc_part(dfdc, 2, {"aaa.mp4": {"label": "REAL"}})
    with pytest.raises(ValueError, match=r"part_2/metadata.json: key 'aaa.mp4' is also in"):
        build_manifest("dfdc", dfdc, test_labels="")
    (dfdc / "dfdc_train_part_2/metadata.json").write_text('{"aaa.mp4":\n  {"label": REAL}}')
    with pytest.raises(ValueError, match=r"part_2/metadata.json: line 2: invalid JSON"):
        build_manifest("dfdc", dfdc)


def test_dfdc_loops_of_originals_are_refused(tmp_path: Path) -> None:
    _dfdc_part(
        tmp_path,
        0,
        {
            "a.mp4": {"label": "FAKE", "original": "b.mp4"},
            "b.mp4": {"label": "FAKE", "original": "a.mp4"},
        },
    )
    with pytest.raises(ValueError, match=r"originals form a loop: a.mp4 -> b.mp4 -> a.mp4"):
        build_manifest("dfdc", tmp_path)


# --- Celeb-DF ---------------------------------------------------------------------------


@pytest.fixture
def celebdf(tmp_path: Path) -> Path:
    root = tmp_path / "Celeb-DF-v2"
    for rel in (
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id0_0001.mp4",
        "Celeb-real/id1_0000.mp4",
        "YouTube-real/00170.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "Celeb-synthesis/id1_id0_0007.mp4",
    ):
        _touch(root, rel)
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id1_id0_0007.mp4\n1 Celeb-real/id1_0000.mp4\n"
    )
    return root


def test_celebdf_inverts_test_list_labels_and_groups_by_target_identity(celebdf: Path) -> None:
    rows = build_manifest("celebdf", celebdf)
    by_id = _by_id(rows)
    assert len(rows) == 6
    assert by_id["celebdf_fake_id1_id0_0007"] == {
        "sample_id": "celebdf_fake_id1_id0_0007",
        "path": "Celeb-synthesis/id1_id0_0007.mp4",
        "label": "1",
        "group": "celebdf_test_id1",
        "split": "test",
        "kind": "video",
        "source": "celebdf/Celeb-synthesis",
    }
    assert by_id["celebdf_real_id1_0000"]["group"] == "celebdf_test_id1"  # both listed
    assert by_id["celebdf_fake_id0_id1_0000"]["group"] == "celebdf_id0"
    assert by_id["celebdf_real_id0_0001"]["group"] == "celebdf_id0"
    assert (by_id["celebdf_youtube_00170"]["label"], by_id["celebdf_youtube_00170"]["split"]) == (
        "0",
        "test",
    )
    assert by_id["celebdf_real_id0_0000"]["split"] == ""
    # A listed video's identity group is apart from the unlisted videos of that identity,
    # which the seeded split then puts in train and val (never test): the published protocol.
    splits = assign_splits(manifest.validate(rows, celebdf)[0], 0.5, 0.2, seed=0)
    listed = {r["sample_id"] for r in rows if r["split"] == "test"}
    assert {sid for sid, sp in splits.items() if sp == "test"} == listed
    _, refusals = manifest.validate(rows, celebdf)
    assert refusals == []
    assert {r["split"] for r in build_manifest("celebdf", celebdf, test_list="")} == {""}


@pytest.mark.parametrize(
    ("listing", "message"),
    [
        (
            "1 YouTube-real/00170.mp4\n2 Celeb-real/id0_0000.mp4\n",
            r"txt: line 2: want 'LABEL PATH'",
        ),
        ("0 YouTube-real/00170.mp4\n", r"txt: line 1: YouTube-real/00170.mp4 is listed as fake"),
        ("1 Celeb-real/../x.mp4\n", r"txt: line 1: 'Celeb-real/../x.mp4' is not a video"),
        ("0 Celeb-synthesis/id0-id1.mp4\n", r"txt: line 1: .* is not a Celeb-DF name"),
    ],
)
def test_celebdf_malformed_test_list_names_the_line(
    celebdf: Path, listing: str, message: str
) -> None:
    (celebdf / "List_of_testing_videos.txt").write_text(listing)
    with pytest.raises(ValueError, match=message):
        build_manifest("celebdf", celebdf)


# --- labelled folder --------------------------------------------------------------------


def test_folder_reads_labels_groups_splits_and_kinds(tmp_path: Path) -> None:
    _h264(tmp_path / "real/a.mp4")
    _touch(tmp_path, "fake/a b.mp4")
    _touch(tmp_path, "stills/face.PNG")
    (tmp_path / "labels.csv").write_text(
        "path,label,group,split\nreal/a.mp4,real,person1,train\n"
        "fake/a b.mp4,1,person1,train\nstills/face.PNG,0,,\n"
    )
    rows = build_manifest("folder", tmp_path)
    assert rows == [
        {
            "sample_id": "real_a",
            "path": "real/a.mp4",
            "label": "0",
            "group": "person1",
            "split": "train",
            "kind": "video",
            "source": "folder",
        },
        {
            "sample_id": "fake_a_b",
            "path": "fake/a b.mp4",
            "label": "1",
            "group": "person1",
            "split": "train",
            "kind": "video",
            "source": "folder",
        },
        {
            "sample_id": "stills_face",
            "path": "stills/face.PNG",
            "label": "0",
            "group": "stills_face",
            "split": "",
            "kind": "image",
            "source": "folder",
        },
    ]
    _assert_valid(rows, tmp_path)


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("file,label\na.mp4,0\n", r"labels.csv: line 1: header 'file,label'"),
        ("path,label,lable\na.mp4,0,1\n", r"labels.csv: line 1: header"),
        ("path,label,split\na.mp4,0,holdout\n", r"labels.csv: line 2: split 'holdout'"),
        ("path,label\na.txt,0\n", r"labels.csv: line 2: a.txt: unknown file type .txt"),
        ("path,label\n,0\n", r"labels.csv: line 2: empty path"),
        ("path,label\na.mp4,0\na.mov,1\n", r"line 3: a.mov gives the sample id 'a' of line 2"),
        ("path,label\n../outside.mp4,0\n", r"line 2: ../outside.mp4 is outside the dataset root"),
        ("path,label\n", r"labels.csv: no rows"),
    ],
)
def test_folder_malformed_labels_name_file_and_line(
    tmp_path: Path, csv_text: str, message: str
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "labels.csv").write_text(csv_text)
    with pytest.raises(ValueError, match=message):
        build_manifest("folder", root)


def test_folder_rows_of_another_label_are_refused_by_the_manifest_check(tmp_path: Path) -> None:
    """A label that is neither 0/real nor 1/fake does not stop the run: the row goes into the
    manifest as written and the workflow's check refuses it (rejected.tsv), the rest go on."""
    _h264(tmp_path / "a.mp4")
    _h264(tmp_path / "b.mp4")
    (tmp_path / "labels.csv").write_text("path,label\na.mp4,real\nb.mp4, Fake? \n")
    rows = build_manifest("folder", tmp_path)
    assert [r["label"] for r in rows] == ["0", "Fake?"]
    accepted, refusals = manifest.validate(rows, tmp_path)
    assert [s.sample_id if s else None for s in accepted] == ["a", None]
    assert [(r.sample_id, "label" in r.reason) for r in refusals] == [("b", True)]


@pytest.mark.parametrize("kind", ["ffpp", "dfdc", "celebdf"])
def test_a_relative_root_gives_the_rows_of_the_absolute_one(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``root: data/ffpp`` as users write it: the paths stay relative to the root, once."""
    root = request.getfixturevalue(kind)
    monkeypatch.chdir(root.parent)
    rows = build_manifest(kind, root.name)
    assert rows == build_manifest(kind, root) and rows
    _assert_valid(rows, root)


def test_paths_never_escape_the_root(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.mp4").write_bytes(b"")
    (root / "link").symlink_to(outside)
    assert root_relative(root, "sub/../sub/./y.mp4") == "sub/y.mp4"
    assert root_relative(root, root / "sub/y.mp4") == "sub/y.mp4"
    for escaping in ("../elsewhere/x.mp4", str(outside / "x.mp4"), "link/x.mp4"):
        with pytest.raises(ValueError, match="outside the dataset root"):
            root_relative(root, escaping)
    assert root_relative(root, "link/x.mp4", allow_outside_root=True) == str(outside / "x.mp4")
    (root / "labels.csv").write_text(f"path,label\n{outside / 'x.mp4'},1\n")
    rows = build_manifest("folder", root, allow_outside_root=True)
    assert rows[0]["path"] == str(outside / "x.mp4")


def test_safe_id_gives_valid_sample_ids() -> None:
    assert safe_id("fake/a b.mp4") == "fake_a_b.mp4"
    assert safe_id("__x") == "x"
    assert safe_id("/abs/ü.mp4") == "abs_.mp4"


def test_folder_labels_csv_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    _touch(tmp_path, "real/a.mp4")
    (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfpath,label\nreal/a.mp4,0\n")
    assert [r["path"] for r in build_manifest("folder", tmp_path)] == ["real/a.mp4"]


def test_safe_id_shortens_long_ids_deterministically(tmp_path: Path) -> None:
    nested = "/".join(["a_rather_long_folder_name"] * 10)  # 259 characters
    short = safe_id(nested)
    assert len(short) == manifest.MAX_SAMPLE_ID
    assert short == safe_id(nested)
    assert short.startswith("a_rather_long_folder_name_a_rather")
    assert safe_id(nested + "x") != short
    # A folder dataset with nested folders gives ids the manifest accepts.
    _touch(tmp_path, f"{nested}/clip.mp4")
    (tmp_path / "labels.csv").write_text(f"path,label\n{nested}/clip.mp4,1\n")
    rows = build_manifest("folder", tmp_path)
    assert len(rows[0]["sample_id"]) <= manifest.MAX_SAMPLE_ID
    _, refusals = manifest.validate(rows, tmp_path)
    assert refusals == []


def test_unknown_dataset_and_option_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        build_manifest("imagenet", tmp_path)
    with pytest.raises(ValueError, match=r"dataset celebdf takes no option compression"):
        build_manifest("celebdf", tmp_path, compression="c23")


# --- the CLI ----------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    """Run ``unrender manifest ARGV`` through its command module."""
    parser = argparse.ArgumentParser()
    manifest_command.add_arguments(parser)
    return manifest_command.run(parser.parse_args(argv))


def test_cli_writes_a_manifest_the_workflow_reads(
    ffpp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.tsv"
    (ffpp / "splits/val.json").write_text(json.dumps([["020", "099"]]))
    assert _cli("--dataset", "ffpp", "--root", str(ffpp), "--out", str(out)) == 0
    printed = capsys.readouterr()
    assert "13 rows (5 real, 8 fake) in 3 groups; split: test 6, train 6, val 1" in printed.out
    assert manifest.read(out) == build_manifest("ffpp", ffpp)
    # A row that the workflow will refuse is announced, not dropped.
    (ffpp / "original_sequences/youtube/c23/videos/020.mp4").unlink()
    (ffpp / "labels.csv").write_text(
        "path,label\noriginal_sequences/youtube/c23/videos/020.mp4,0\n"
    )
    assert _cli("--dataset", "folder", "--root", str(ffpp), "--out", str(out)) == 0
    assert "1 rows will be refused" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--compression does not apply to --dataset celebdf"):
        _cli("--dataset", "celebdf", "--root", str(ffpp), "--out", str(out), "--compression", "c40")


def test_write_manifest_round_trips(tmp_path: Path, celebdf: Path) -> None:
    rows = build_manifest("celebdf", celebdf)
    write_manifest(tmp_path / "m.tsv", rows)
    assert manifest.read(tmp_path / "m.tsv") == rows
