"""Training: group splits, data tensors, augmentation, determinism, learning a planted signal.

The fake run has random pictures for every input except ``shading``, where fakes are brighter:
a model that reads shading can separate them, the others cannot.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.imports import module_level_imports
from unrender import manifest
from unrender.config import ConfigError
from unrender.evaluate import predictions
from unrender.io import write_array, write_image
from unrender.manifest import Sample
from unrender.modalities import MODALITIES
from unrender.train import checkpoint
from unrender.train.data import (
    BatchRing,
    FrameDataset,
    PackedDataset,
    collate_packed,
    load_inputs,
    packed_loader,
    reuse_freed_memory,
    to_inputs,
)
from unrender.train.inputs import PACK_PARTS
from unrender.train.loop import TrainOptions, _val_scores, augment, loader_options, train_model
from unrender.train.models import build_model
from unrender.train.packs import Item, open_packs, pack_shard, shard_items
from unrender.train.splits import assign_splits, read_groups, read_splits, write_splits

FRAME_SIZE = 32


def make_run(
    run_dir: Path, n_groups: int = 8, frames: int = 2, n_images: int = 10, seed: int = 0
) -> list[Path]:
    """A run folder with one shard: per group a real and a fake video, plus still images.

    Shading carries the label (fakes ~0.75 gray, reals ~0.25, plus noise); every other input is
    noise. Returns the shard TSVs.
    """
    rng = np.random.default_rng(seed)
    samples = [
        Sample(f"g{g}-{lab}", f"g{g}-{lab}.mp4", lab, f"g{g}", "", "video", "test")
        for g in range(n_groups)
        for lab in (0, 1)
    ]
    samples += [
        Sample(f"img{i}", f"img{i}.png", i % 2, f"img{i}", "", "image", "test")
        for i in range(n_images)
    ]
    shape = (FRAME_SIZE, FRAME_SIZE, 3)
    for s in samples:
        for k in range(frames if s.kind == "video" else 1):
            write_image(
                run_dir / "frames/s0000" / s.sample_id / f"{k}.png",
                rng.integers(0, 256, shape, dtype=np.uint8),
            )
            for m in MODALITIES:
                base = run_dir / "modalities" / m / "s0000" / s.sample_id / f"{k}"
                if m == "shading":
                    level = 0.25 + 0.5 * s.label + rng.normal(0, 0.08, shape)
                    picture = np.round(255 * np.clip(level, 0, 1)).astype(np.uint8)
                elif m == "shadow":
                    picture = rng.integers(0, 256, shape[:2], dtype=np.uint8)
                else:
                    picture = rng.integers(0, 256, shape, dtype=np.uint8)
                write_image(base.with_suffix(".png"), picture)
                if m == "lighting":
                    write_array(
                        base.with_suffix(".npy"), rng.normal(size=(9, 3)).astype(np.float32)
                    )
    shard = run_dir / "shards" / "s0000.tsv"
    manifest.write_samples(shard, samples)
    return [shard]


FAST = TrainOptions.from_config(
    {"image_size": FRAME_SIZE, "max_epochs": 2, "batch_size": 16, "lr": 3e-3}, seed=0
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    run_dir = tmp_path_factory.mktemp("run")
    return run_dir, make_run(run_dir)


def pack_run(run_dir: Path, shards: list[Path], image_size: int, out: Path) -> list[Path]:
    """Every pack part of every shard at ``image_size`` under ``out``; the pack folders."""
    dirs = []
    for shard in shards:
        for part in PACK_PARTS:
            dirs.append(out / part / shard.stem)
            pack_shard(run_dir, shard, part, image_size, dirs[-1])
    return dirs


def _train(run: tuple[Path, list[Path]], name: str, out: Path, options: TrainOptions = FAST):
    run_dir, shards = run
    packs = pack_run(run_dir, shards, options.image_size, out / "packs")
    splits = out / "splits.tsv"
    write_splits(shards, splits, options.val_fraction, options.test_fraction, options.seed)
    meta = train_model(
        name, packs, splits, options, out / "model", out / "pred.tsv", out / "tb", {"x": 1}
    )
    return meta, predictions.read(out / "pred.tsv")


def _group_splits(samples: list[Sample], splits: dict[str, str]) -> dict[str, set[str]]:
    by_group: dict[str, set[str]] = {}
    for s in samples:
        by_group.setdefault(s.group, set()).add(splits[s.sample_id])
    assert all(len(v) == 1 for v in by_group.values())  # no group on two sides
    return by_group


def _split_counts(by_group: dict[str, set[str]]) -> dict[str, int]:
    return {sp: sum(1 for v in by_group.values() if v == {sp}) for sp in ("train", "val", "test")}


def test_group_split_keeps_groups_whole_and_reaches_both_classes() -> None:
    samples = [
        Sample(f"{g}-{i}", "x", i % 2, f"g{g}", "", "video", "t")
        for g in range(30)
        for i in range(3)
    ]
    splits = assign_splits(samples, 0.2, 0.2, seed=3)
    assert _split_counts(_group_splits(samples, splits)) == {"train": 18, "val": 6, "test": 6}
    assert splits == assign_splits(samples, 0.2, 0.2, seed=3)
    assert splits != assign_splits(samples, 0.2, 0.2, seed=4)
    for sp in ("val", "test"):
        assert {s.label for s in samples if splits[s.sample_id] == sp} == {0, 1}


def test_a_named_test_split_is_the_test_split_and_val_comes_from_train() -> None:
    """An official test list (a group named test, its unnamed rows following it) is the whole
    test split; a dataset naming only train and test (DFDC) gets val from its train groups."""
    samples = [
        Sample(f"{g}-{i}", "x", i % 2, f"g{g}", "", "video", "t")
        for g in range(30)
        for i in range(3)
    ]
    samples.append(Sample("named", "x", 0, "gnamed", "test", "video", "t"))
    samples.append(Sample("follower", "x", 1, "gnamed", "", "video", "t"))
    by_group = _group_splits(samples, assign_splits(samples, 0.2, 0.2, seed=3))
    assert by_group["gnamed"] == {"test"}
    assert _split_counts(by_group) == {"train": 24, "val": 6, "test": 1}

    dfdc = [
        Sample(f"{g}-{i}", "x", i % 2, f"g{g}", "train" if g < 20 else "test", "video", "t")
        for g in range(25)
        for i in range(2)
    ]
    splits = assign_splits(dfdc, 0.2, 0.2, seed=3)
    by_group = _group_splits(dfdc, splits)
    assert _split_counts(by_group) == {"train": 16, "val": 4, "test": 5}
    assert all(by_group[f"g{g}"] == {"test"} for g in range(20, 25))  # named test stays
    assert {s.label for s in dfdc if splits[s.sample_id] == "val"} == {0, 1}
    # A named val split is kept as it is: no train group moves.
    named_val = [dataclasses.replace(s, split="val") if s.group == "g0" else s for s in dfdc]
    assert _split_counts(_group_splits(named_val, assign_splits(named_val, 0.2, 0.2, 3))) == {
        "train": 19,
        "val": 1,
        "test": 5,
    }


def test_group_split_refuses_a_group_named_in_two_splits() -> None:
    samples = [
        Sample("a", "x", 0, "g", "train", "video", "t"),
        Sample("b", "x", 1, "g", "test", "video", "t"),
    ]
    with pytest.raises(ValueError, match="more than one split"):
        assign_splits(samples, 0.2, 0.2, seed=0)


def test_splits_tsv_is_the_group_split_of_the_shards(
    run: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    _, shards = run
    write_splits(shards, tmp_path / "splits.tsv", 0.2, 0.2, seed=7)
    samples = manifest.read_samples(shards[0])
    assert read_splits(tmp_path / "splits.tsv") == assign_splits(samples, 0.2, 0.2, seed=7)
    assert read_groups(tmp_path / "splits.tsv") == {s.sample_id: s.group for s in samples}
    (tmp_path / "bad.tsv").write_text("sample_id\tgroup\tsplit\ng0-0\tg0\ttrian\n")
    with pytest.raises(ValueError, match="not a splits.tsv"):
        read_splits(tmp_path / "bad.tsv")


def test_packs_hold_the_decoded_tensors_bit_for_bit(
    run: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    run_dir, shards = run
    dirs = pack_run(run_dir, shards, 16, tmp_path)
    items = shard_items(run_dir, shards[0])
    decoded = FrameDataset(run_dir, "s0000", items, ("rgb", *MODALITIES), 16)
    packs = open_packs(dirs, ("rgb", *MODALITIES))
    assert [p.items for p in packs] == [tuple(items)]
    packed = PackedDataset(packs, [(0, i) for i in range(len(items))], 16)
    for i in (0, 5, len(items) - 1):
        (want, label), (got, got_label) = decoded[i], packed[i]
        assert got.keys() == want.keys() and label == got_label == items[i].label
        for name in want:
            assert got[name].dtype == want[name].dtype and torch.equal(got[name], want[name])
    # Batches (read per batch, and by two worker processes that map the files themselves)
    # are the batches default_collate makes of the decoded files, dtypes included, also with
    # malloc keeping freed blocks as training has it.
    assert reuse_freed_memory() == (platform.libc_ver()[0] == "glibc")
    batches = [
        list(torch.utils.data.DataLoader(data, batch_size=8, num_workers=w, collate_fn=c))
        for data, w, c in (
            (decoded, 0, None),
            (packed, 0, collate_packed),
            (packed, 2, collate_packed),
        )
    ]
    assert len(batches[0]) == -(-len(items) // 8)
    for (a, la), *others in zip(*batches, strict=True):
        for b, lb in others:
            assert b.keys() == a.keys() and la.dtype == lb.dtype and torch.equal(la, lb)
            assert all(a[n].dtype == b[n].dtype and torch.equal(a[n], b[n]) for n in a)
    with pytest.raises(ValueError, match="train.image_size 32"):
        PackedDataset(packs, [(0, 0)], 32)[0]
    with pytest.raises(ValueError, match="no pack of input rgb"):
        open_packs([tmp_path / "modalities" / "s0000"], ("rgb",))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_workers_batches_reuse_a_ring_and_stay_correct_when_kept(
    run: tuple[Path, list[Path]], tmp_path: Path, context: str
) -> None:
    run_dir, shards = run
    packs = open_packs(pack_run(run_dir, shards, 16, tmp_path), ("rgb", *MODALITIES))
    packed = PackedDataset(packs, [(0, i) for i in range(len(packs[0].items))], 16)
    want = list(torch.utils.data.DataLoader(packed, batch_size=2, collate_fn=collate_packed))
    loader = packed_loader(
        packed, 2, num_workers=2, persistent_workers=True, multiprocessing_context=context
    )
    ring = loader.dataset.ring
    slots = ring.buffer.shape[0]
    assert slots == 2 * (2 + 2) and len(want) > slots  # so that keeping every batch outruns them
    start = ring.buffer.data_ptr()

    def in_ring(t: torch.Tensor) -> bool:
        return start <= t.data_ptr() < start + ring.buffer.nbytes

    def same(a: tuple, b: tuple) -> bool:
        return torch.equal(a[1], b[1]) and all(torch.equal(a[0][n], b[0][n]) for n in b[0])

    # Used one at a time, as training uses them: every batch views a slot, two epochs over.
    for _ in range(2):
        for got, expected in zip(loader, want, strict=True):
            assert all(map(in_ring, (*got[0].values(), got[1]))) and same(got, expected)
    del got
    # Kept: past the free slots batches come in fresh shared memory, and none is overwritten.
    kept = list(loader)
    assert all(map(same, kept, want)) and len(want) == len(kept)
    held = sum(in_ring(b[1]) for b in kept)
    assert 0 < held <= slots
    assert int(ring.busy.sum()) == held
    del kept
    assert int(ring.busy.sum()) == 0  # each slot is free once its batch is gone
    # Loaders iterated one after another, each to its end, may share a ring (training's do).
    backwards = PackedDataset(packs, [(0, i) for i in reversed(range(len(packed)))], 16)
    want_back = list(
        torch.utils.data.DataLoader(backwards, batch_size=2, collate_fn=collate_packed)
    )
    other = packed_loader(
        backwards, 2, ring, num_workers=2, persistent_workers=True, multiprocessing_context=context
    )
    assert other.dataset.ring is ring
    for data, expected_batches in ((other, want_back), (loader, want), (other, want_back)):
        for got, expected in zip(data, expected_batches, strict=True):
            assert all(map(in_ring, (*got[0].values(), got[1]))) and same(got, expected)
    with pytest.raises(ValueError, match="cannot hold batches of 4"):
        packed_loader(packed, 4, ring, num_workers=2)


def test_a_worker_refills_its_first_free_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claims take a worker's lowest free slot, so a slot freed a moment ago (still in the
    CPU's cache) is refilled first, and another worker's slots are never taken."""
    ring = BatchRing({"rgb": ((3, 2, 2), torch.uint8)}, batch_size=2, workers=2, slots_per_worker=3)
    worker = torch.utils.data._utils.worker.WorkerInfo(id=1, num_workers=2, seed=0, dataset=None)
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: worker)

    def claim() -> int | None:
        claimed = ring.claim(2)
        return None if claimed is None else claimed[0].slot

    assert [claim(), claim()] == [3, 4]
    ring.busy[3] = 0  # the main process let go of the batch in slot 3
    assert [claim(), claim(), claim()] == [3, 5, None]
    ring.busy[4] = 0
    assert claim() == 4 and int(ring.busy[:3].sum()) == 0


def test_a_ring_too_big_for_dev_shm_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything is allocated, naming the fix (torch's own error names
    neither the loader nor a remedy)."""
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    monkeypatch.setattr("unrender.train.data.SHARED_MEMORY_DIR", tmp_path)
    items = -(-2 * free // 3 // 8)  # one item of 3 bytes: 8 slots hold twice what is free
    with pytest.raises(OSError, match=r"8 batch slots \(2 workers\) need .* MiB free: run"):
        BatchRing({"rgb": ((3,), torch.uint8)}, batch_size=items, workers=2, slots_per_worker=4)
    ring = BatchRing({"rgb": ((3,), torch.uint8)}, batch_size=2, workers=2, slots_per_worker=4)
    assert ring.buffer.shape[0] == 8


def test_inputs_have_documented_shapes(run: tuple[Path, list[Path]]) -> None:
    run_dir, shards = run
    item = shard_items(run_dir, shards[0])[1]
    x = load_inputs(run_dir, "s0000", item, ("rgb", *MODALITIES), 16)
    for name in ("rgb", "albedo", "normal", "shading"):
        assert x[name].shape == (3, 16, 16) and x[name].dtype == torch.uint8
    assert x["shadow"].shape == (1, 16, 16) and x["shadow"].dtype == torch.uint8
    assert x["lighting"].shape == (27,) and x["lighting"].dtype == torch.float32
    gray = np.full((8, 8), 7, np.uint8)
    made = to_inputs({"shadow": gray, "rgb": gray}, None, 8)
    assert made["shadow"].shape == (1, 8, 8) and bool((made["shadow"] == 7).all())
    assert made["rgb"].shape == (3, 8, 8) and bool((made["rgb"] == 7).all())
    with pytest.raises(ValueError, match="shadow is a picture of 1 channel"):
        to_inputs({"shadow": np.zeros((8, 8, 3), np.uint8)}, None, 8)


def test_gray_shadow_reads_as_it_did_repeated_on_three_channels() -> None:
    """One channel instead of three changes neither the resized picture nor a model's logits."""
    gray = np.random.default_rng(0).integers(0, 256, (37, 29), dtype=np.uint8)
    resized = to_inputs({"shadow": gray}, None, 16)["shadow"]
    repeated = to_inputs({"rgb": np.repeat(gray[..., None], 3, axis=2)}, None, 16)["rgb"]
    assert torch.equal(resized.expand(3, -1, -1), repeated)
    torch.manual_seed(0)
    model = build_model("shadow").eval()
    batch = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model({"shadow": batch}), model({"shadow": batch.repeat(1, 3, 1, 1)}))


def test_flip_mirrors_every_input_consistently() -> None:
    picture = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4)
    lighting = torch.arange(1, 2 * 27 + 1, dtype=torch.float32).view(2, 27)
    batch = {"albedo": picture, "normal": picture, "lighting": lighting}
    out = augment(batch, torch.Generator().manual_seed(0), flip=True, jpeg_quality=None)
    flipped = [i for i in range(2) if not torch.equal(out["albedo"][i], picture[i])]
    assert flipped, "seed 0 flips at least one of two items"
    for i in range(2):
        if i in flipped:
            assert torch.equal(out["albedo"][i], picture[i].flip(-1))
            assert torch.equal(out["normal"][i, 0], 255 - picture[i, 0].flip(-1))  # x negated
            assert torch.equal(out["normal"][i, 1:], picture[i, 1:].flip(-1))
            odd = [9, 10, 11, 12, 13, 14, 21, 22, 23]  # SH x, xy, xz rows, 3 colours each
            even = [j for j in range(27) if j not in odd]
            assert torch.equal(out["lighting"][i, odd], -lighting[i, odd])
            assert torch.equal(out["lighting"][i, even], lighting[i, even])
        else:
            assert torch.equal(out["normal"][i], picture[i])
            assert torch.equal(out["lighting"][i], lighting[i])


def test_loaders_use_workers_and_pinned_memory_on_cuda_only() -> None:
    # Workers change no batch (test_packs_hold_the_decoded_tensors_bit_for_bit) and no
    # result (test_training_is_deterministic_and_learns_the_planted_signal).
    assert loader_options(torch.device("cpu"), workers=2) == {}
    cuda = loader_options(torch.device("cuda"), workers=2)
    assert cuda == {"num_workers": 2, "pin_memory": True}


def test_training_is_deterministic_and_learns_the_planted_signal(
    run: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_a, pred_a = _train(run, "shading", tmp_path / "a")
    # The second run reads through two workers and their BatchRing, as training on CUDA does
    # (pinned memory aside): the same batches in the same order, so the same bytes.
    cuda = loader_options(torch.device("cuda"), workers=2)
    monkeypatch.setattr(
        "unrender.train.loop.loader_options",
        lambda device, workers: {k: v for k, v in cuda.items() if k != "pin_memory"},
    )
    meta_b, pred_b = _train(run, "shading", tmp_path / "b")
    assert (tmp_path / "a/model/model.safetensors").read_bytes() == (
        tmp_path / "b/model/model.safetensors"
    ).read_bytes()
    np.testing.assert_array_equal(pred_a.prob, pred_b.prob)
    assert meta_a["history"] == meta_b["history"]
    # The best epoch has the best val AUC (then the lowest val loss); the signal is found.
    history = meta_a["history"]
    best = max(history, key=lambda h: (h["val_auc"], -h["val_loss"]))
    assert meta_a["best_epoch"] == best["epoch"]
    assert best["val_auc"] > 0.9
    test = pred_a.split == "test"
    fake, real = pred_a.prob[test & (pred_a.label == 1)], pred_a.prob[test & (pred_a.label == 0)]
    assert fake.mean() > real.mean() + 0.2
    # Predictions cover val and test frames only, with the documented columns.
    assert set(pred_a.split) == {"val", "test"}
    assert set(pred_a.kind) == {"video", "image"}
    assert meta_a["splits"]["train"]["frames"] > 0 and meta_a["preprocess"] == {"x": 1}
    assert list((tmp_path / "a/tb").iterdir()), "tensorboard events were written"


def test_which_samples_share_a_shard_changes_no_result(
    run: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """The cap on shards (manifest.shard_size_for) moves samples between shards: the split,
    the training order and so the model must not follow."""
    run_dir, shards = run
    samples = manifest.read_samples(shards[0])
    resharded, tsvs = tmp_path / "resharded", []
    for i, block in enumerate((samples[:7], samples[7:20], samples[20:])):
        shard = f"s{i:04d}"
        for s in block:
            for top in ("frames", *(f"modalities/{m}" for m in MODALITIES)):
                source = run_dir / top / "s0000" / s.sample_id
                shutil.copytree(source, resharded / top / shard / s.sample_id)
        tsvs.append(resharded / "shards" / f"{shard}.tsv")
        manifest.write_samples(tsvs[-1], block)
    once = dataclasses.replace(FAST, max_epochs=1)
    meta_one, pred_one = _train(run, "ensemble_net", tmp_path / "one", once)
    meta_three, pred_three = _train((resharded, tsvs), "ensemble_net", tmp_path / "three", once)
    assert (tmp_path / "one/splits.tsv").read_bytes() == (
        tmp_path / "three/splits.tsv"
    ).read_bytes()
    assert (tmp_path / "one/model/model.safetensors").read_bytes() == (
        tmp_path / "three/model/model.safetensors"
    ).read_bytes()
    assert meta_one["history"] == meta_three["history"]
    np.testing.assert_array_equal(pred_one.sample_id, pred_three.sample_id)
    np.testing.assert_array_equal(pred_one.prob, pred_three.prob)


def test_early_stopping_on_val_auc_and_the_last_epoch_flag(
    run: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    # lighting (an MLP) is cheap enough for many epochs; its val AUC on noise soon stalls.
    options = TrainOptions.from_config(
        {"image_size": FRAME_SIZE, "max_epochs": 40, "patience": 2}, seed=0
    )
    meta, _ = _train(run, "lighting", tmp_path / "stop", options)
    history = meta["history"]
    assert meta["epochs_run"] == len(history) < 40, "stopped early"
    best = meta["best_epoch"]
    # It ran exactly `patience` epochs past the best, and none of them beat it.
    assert len(history) == best + 2
    score = [(h["val_auc"], -h["val_loss"]) for h in history]
    assert all(score[e] <= score[best - 1] for e in range(best, len(history)))
    assert meta["chose_last_epoch"] is False
    # One epoch allowed: its only epoch is its last, the flag a still-improving model gets.
    one = TrainOptions.from_config({"image_size": FRAME_SIZE, "max_epochs": 1}, seed=0)
    meta, _ = _train(run, "lighting", tmp_path / "one", one)
    assert meta["best_epoch"] == meta["epochs_run"] == 1 and meta["chose_last_epoch"] is True


def test_checkpoint_round_trip_without_pickle(run: tuple[Path, list[Path]], tmp_path: Path) -> None:
    # A small trunk keeps the four-encoder fusion fast, and checks that arch is configurable.
    options = TrainOptions.from_config(
        {
            "arch": "mobilenet_v3_small",
            "image_size": FRAME_SIZE,
            "max_epochs": 1,
            "batch_size": 16,
            "augment": {"flip": True, "jpeg_quality": 50},
        },
        seed=1,
    )
    meta, pred = _train(run, "ensemble_net", tmp_path, options)
    model, loaded_meta = checkpoint.load(tmp_path / "model")
    assert loaded_meta == json.loads((tmp_path / "model/meta.json").read_text())
    assert loaded_meta["inputs"] == list(MODALITIES) and meta["model"] == "ensemble_net"
    run_dir, shards = run
    sample = next(s for s in manifest.read_samples(shards[0]) if s.sample_id == pred.sample_id[0])
    item = Item(sample.sample_id, int(pred.k[0]), sample.label, sample.group, sample.kind)
    x = load_inputs(run_dir, "s0000", item, MODALITIES, FRAME_SIZE)
    with torch.no_grad():
        prob = torch.sigmoid(model({k: v[None] for k, v in x.items()}))
    assert prob.shape == (1,)
    assert float(prob[0]) == pytest.approx(pred.prob[0], abs=1e-6)


def test_clear_errors(run: tuple[Path, list[Path]], tmp_path: Path) -> None:
    no_val = TrainOptions.from_config(
        {"image_size": FRAME_SIZE, "max_epochs": 1, "split": {"val": 0.0}}, seed=0
    )
    with pytest.raises(ValueError, match="val split .* is empty"):
        _train(run, "lighting", tmp_path, no_val)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("depth")
    with pytest.raises(ValueError, match="not a torchvision classification model"):
        build_model("rgb", arch="resnet19")
    with pytest.raises(ConfigError, match=r"^train: unknown key.*'epochz'"):
        TrainOptions.from_config({"epochz": 3}, seed=0)
    with pytest.raises(ConfigError, match=r"^train.augment: unknown key"):
        TrainOptions.from_config({"augment": {"blur": 1}}, seed=0)
    defaults = TrainOptions.from_config({}, seed=5)
    assert (defaults.arch, defaults.max_epochs, defaults.patience, defaults.flip) == (
        "resnet18",
        30,
        5,
        True,
    )
    assert TrainOptions.from_config(
        {"max_epochs": 2, "patience": 1, "augment": {"flip": False}, "split": {"val": 0.3}},
        seed=5,
    ) == dataclasses.replace(defaults, max_epochs=2, patience=1, flip=False, val_fraction=0.3)


def test_user_weights_file_is_loaded(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source = build_model("rgb", arch="resnet18")
    trunk = source.encoders["rgb"].trunk
    save_file(
        {k: v.contiguous() for k, v in trunk.state_dict().items()}, tmp_path / "w.safetensors"
    )
    torch.save(trunk.state_dict(), tmp_path / "w.pt")
    for name in ("w.safetensors", "w.pt"):
        loaded = build_model("rgb", pretrained=str(tmp_path / name)).encoders["rgb"].trunk
        for k, v in trunk.state_dict().items():
            assert torch.equal(loaded.state_dict()[k], v)
    save_file({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="lacks"):
        build_model("rgb", pretrained=str(tmp_path / "bad.safetensors"))


def test_imagenet_weights_offline_names_the_file_to_place(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import urllib.error

    import torchvision

    def offline(name: str, weights: object = None) -> torch.nn.Module:
        raise urllib.error.URLError("no network")  # what torch.hub raises without internet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(FileNotFoundError) as error:
        build_model("rgb", pretrained="imagenet")
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "TORCH_HOME" in message


def test_val_auc_is_the_roc_auc_torchmetrics_gives() -> None:
    # The val AUC that picks the epoch moved from torchmetrics to mid-ranks (start-up cost);
    # on scores with ties and saturated logits it must be the same area under the ROC.
    from torchmetrics.functional.classification import binary_auroc

    logits = torch.tensor([-3.0, 0.5, 0.5, 2.0, -1.0, 40.0, 41.0, 0.5, -0.2, 1.5])
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 1, 0])
    loss, auc = _val_scores(logits, labels, torch.tensor(1.0))
    assert auc == pytest.approx(float(binary_auroc(torch.sigmoid(logits), labels)), abs=1e-6)
    assert 0.0 < auc < 1.0 and math.isfinite(loss)


@pytest.mark.parametrize("module", ["unrender.train.packs", "unrender.lighting_consistency"])
def test_pack_and_lighting_jobs_import_no_torch(module: str) -> None:
    # A pack job is a decode and a copy; importing torch would be ~5 s of its ~0.6 s.
    imported = module_level_imports(module)
    assert {"numpy", "cv2"} <= imported  # the walk follows the imports
    assert not imported & {"torch", "torchvision", "scipy"}
