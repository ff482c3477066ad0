"""The embedded synthetic dataset: rendering physics, swaps, plan, files, determinism, CLI."""

from __future__ import annotations

import filecmp
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from unrender import sh
from unrender.cli import main as cli_main
from unrender.io import read_image, read_tsv
from unrender.synth import (
    MANIFEST_COLUMNS,
    Identity,
    Pose,
    SynthConfig,
    plan,
    random_lighting,
    render_face,
    sample_light,
    srgb_to_linear,
    write_dataset,
)
from unrender.synth.dataset import (
    DONOR_LIGHT_SEPARATION,
    GENERATOR_LIGHT_SEPARATION,
    identity_of,
    make_scene,
    planted_signal,
    render_scene,
    render_swap,
)
from unrender.synth.render import directional_sh
from unrender.synth.swap import BLENDS, composite, swap_region
from unrender.video import even_frame_indices

#: A small dataset: 4 identities (2 train, 2 val), 1 video each + 1 swap, 2+2 stills.
SMALL = SynthConfig(
    identities=4,
    videos_per_identity=1,
    fakes_per_real=1,
    images_per_class=2,
    size=64,
    seconds=1.0,
    fps=8,
    frames_per_video=3,
    seed=7,
    splits=(0.5, 0.5, 0.0),
)


def decode(path: Path) -> np.ndarray:
    """All frames of a video: uint8 (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def smooth_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images after a blur that removes pixel noise."""
    blur = [cv2.GaussianBlur(x.astype(np.float32), (0, 0), 1.5) for x in (a, b)]
    return float(np.abs(blur[0] - blur[1]).mean())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small dataset written twice: serially and with two worker processes."""
    first = tmp_path_factory.mktemp("synth_a")
    second = tmp_path_factory.mktemp("synth_b")
    assert write_dataset(SMALL, first, workers=1) == first / "manifest.tsv"
    write_dataset(SMALL, second, workers=2)
    return first, second


def test_same_config_gives_the_same_dataset(written: tuple[Path, Path]) -> None:
    first, second = written
    manifest = read_tsv(first / "manifest.tsv")
    truths = sorted(p.name for p in (first / "truth").iterdir())
    assert truths == sorted(p.name for p in (second / "truth").iterdir())
    assert len(truths) == sum(r["label"] == "0" for r in manifest)
    byte_equal = ["manifest.tsv", *(f"truth/{t}" for t in truths)]
    byte_equal += [r["path"] for r in manifest if r["kind"] == "image"]
    for name in byte_equal:
        assert filecmp.cmp(first / name, second / name, shallow=False), name
    for row in manifest:
        if row["kind"] == "video":
            np.testing.assert_array_equal(decode(first / row["path"]), decode(second / row["path"]))
    # A different seed gives different content.
    other = plan(replace(SMALL, seed=8))
    assert [s.row() for s in other] != [s.row() for s in plan(SMALL)]


def test_manifest_is_the_plan(written: tuple[Path, Path]) -> None:
    first, _ = written
    rows = read_tsv(first / "manifest.tsv")
    assert rows == [s.row() for s in plan(SMALL)]
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    kinds = [(r["kind"], r["label"]) for r in rows]
    assert kinds.count(("video", "0")) == kinds.count(("video", "1")) == 4
    assert kinds.count(("image", "0")) == kinds.count(("image", "1")) == 2
    for row in rows:
        assert (first / row["path"]).is_file(), row["path"]


def test_videos_decode_to_configured_size_and_count(written: tuple[Path, Path]) -> None:
    first, _ = written
    for row in read_tsv(first / "manifest.tsv"):
        if row["kind"] == "video":
            frames = decode(first / row["path"])
            assert frames.shape == (SMALL.n_frames, SMALL.size, SMALL.size, 3)
        else:
            assert read_image(first / row["path"]).shape == (SMALL.size, SMALL.size, 3)


def test_truth_is_self_consistent(written: tuple[Path, Path]) -> None:
    first, _ = written
    rows = {r["sample_id"]: r for r in read_tsv(first / "manifest.tsv")}
    planned = {s.sample_id: s for s in plan(SMALL)}
    for path in sorted((first / "truth").iterdir()):
        row = rows[path.stem]
        assert row["label"] == "0"
        t = np.load(path)
        k = SMALL.frames_per_video if row["kind"] == "video" else 1
        expected_index = even_frame_indices(SMALL.n_frames, k) if k > 1 else [0]
        np.testing.assert_array_equal(t["frame_index"], expected_index)
        s = SMALL.size
        dtypes = {
            "image": np.uint8,
            "albedo": np.float16,
            "normal": np.float16,
            "shading": np.float16,
            "shadow": np.float16,
            "lighting": np.float32,
            "mask": np.bool_,
        }
        shapes = {
            "image": (k, s, s, 3),
            "albedo": (k, s, s, 3),
            "normal": (k, s, s, 3),
            "shading": (k, s, s, 3),
            "shadow": (k, s, s),
            "lighting": (k, 9, 3),
            "mask": (k, s, s),
        }
        for name, dtype in dtypes.items():
            assert t[name].dtype == dtype and t[name].shape == shapes[name], name
        mask = t["mask"]
        assert 0.2 < mask.mean() < 0.8
        normal = t["normal"].astype(np.float32)
        np.testing.assert_allclose(np.linalg.norm(normal[mask], axis=-1), 1.0, atol=2e-3)
        assert (normal[mask][:, 2] > 0).all() and (normal[~mask] == 0).all()
        for i in range(k):
            shading = sh.shading(normal[i], t["lighting"][i])
            np.testing.assert_allclose(t["shading"][i], shading, atol=2e-3, rtol=2e-3)
        shadow = t["shadow"].astype(np.float32)
        assert shadow.min() >= 0 and shadow.max() <= 1
        product = t["albedo"] * t["shading"].astype(np.float32) * shadow[..., None]
        observed = srgb_to_linear(t["image"] / 255.0)
        # The image adds sensor noise and 8-bit quantisation to the model, nothing else.
        assert np.abs(observed - product)[mask].mean() < 0.01
        if row["kind"] == "video":
            # The stored image is the frame before compression (which removes sensor noise).
            decoded = decode(first / row["path"])[t["frame_index"]]
            for before, after in zip(t["image"], decoded, strict=True):
                assert smooth_error(before, after) < 3
            scene = make_scene(SMALL, row["sample_id"], SMALL.n_frames)
            identity = identity_of(SMALL, planned[row["sample_id"]].identity)
            renders = render_scene(SMALL, identity, scene, row["sample_id"])
            for i, index in enumerate(t["frame_index"]):
                np.testing.assert_array_equal(t["image"][i], renders[index].image)
                np.testing.assert_array_equal(t["mask"][i], renders[index].mask)


def test_splits_and_groups_do_not_leak() -> None:
    cfg = SynthConfig(identities=20, videos_per_identity=2, fakes_per_real=2, images_per_class=9)
    samples = plan(cfg)
    assert len({s.sample_id for s in samples}) == len(samples)
    split_of_group: dict[str, str] = {}
    split_of_identity: dict[int, str] = {}
    for s in samples:
        assert split_of_group.setdefault(s.group, s.split) == s.split
        assert split_of_identity.setdefault(s.identity, s.split) == s.split
    assert sorted(split_of_group.values()).count("train") == 10
    by_id = {s.sample_id: s for s in samples}
    fakes = [s for s in samples if s.label == 1 and s.source != "synth-gan"]
    assert len(fakes) == 20 * 2 * 2 + 5
    for fake in fakes:
        assert fake.donor is not None and fake.donor != fake.identity
        assert split_of_identity[fake.donor] == fake.split
        if fake.kind == "video":
            origin = by_id[fake.origin]
            assert (origin.label, origin.group, origin.split) == (0, fake.group, fake.split)


def test_render_follows_the_image_formation_model() -> None:
    rng = np.random.default_rng(0)
    for _ in range(3):
        light = sample_light(rng)
        pose = Pose(yaw=rng.uniform(-20, 20), pitch=rng.uniform(-10, 10), roll=5)
        r = render_face(Identity.random(rng), pose, light.lighting, 96, light.direction, rng)
        m = r.mask
        np.testing.assert_allclose(
            r.linear[m], (r.albedo * r.shading * r.shadow[..., None])[m], rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(r.shading, sh.shading(r.normal, r.lighting), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(r.normal[m], axis=-1), 1.0, atol=1e-4)
        assert (r.normal[m][:, 2] > 0).all() and (r.normal[~m] == 0).all()
        assert r.albedo.min() >= 0 and r.albedo.max() <= 1
        # Well exposed: the face is neither black nor blown out.
        face = r.image[m].mean()
        assert 40 < face < 220 and (r.image[m] == 255).mean() < 0.01


def test_pose_follows_the_documented_convention() -> None:
    rng = np.random.default_rng(4)
    identity, lighting = Identity.random(rng), random_lighting(rng)
    assert lighting.shape == (9, 3) and lighting.dtype == np.float32

    def mean_normal(pose: Pose) -> np.ndarray:
        """Mean normal of the inner face, which turns with the head."""
        r = render_face(identity, pose, lighting, 64)
        return r.normal[r.inner > 0.5].mean(0)

    assert mean_normal(Pose(yaw=20))[0] > 0.1 > -0.1 > mean_normal(Pose(yaw=-20))[0]
    assert mean_normal(Pose(pitch=15))[1] > mean_normal(Pose())[1] + 0.1
    # Shift moves the face, scale enlarges it (x right, y up, image spans [-1, 1]).
    base = render_face(identity, Pose(), lighting, 64).mask
    moved = render_face(identity, Pose(shift=(0.125, 0.125)), lighting, 64).mask
    # 0.125 image units = 4 pixels right and 4 up.
    np.testing.assert_allclose(
        np.argwhere(moved).mean(0) - np.argwhere(base).mean(0), [-4, 4], atol=0.3
    )
    assert render_face(identity, Pose(scale=0.8), lighting, 64).mask.sum() < 0.7 * base.sum()


def test_oblique_light_casts_shadows_and_frontal_light_does_not() -> None:
    rng = np.random.default_rng(1)
    identity = Identity.random(rng)
    ambient = np.zeros((9, 3), np.float32)
    ambient[0] = 0.3
    oblique = np.array([0.7, 0.5, 0.5])
    oblique /= np.linalg.norm(oblique)
    lighting = ambient + directional_sh(oblique, np.full(3, 3.0))
    r = render_face(identity, Pose(), lighting, 96, light_dir=oblique)
    assert (r.shadow[r.mask] < 0.5).sum() > 20
    # The same light from the front: nothing on the face can block it.
    frontal = np.array([0.0, 0.0, 1.0])
    r = render_face(identity, Pose(), ambient + directional_sh(frontal, np.full(3, 1.5)), 96)
    assert (r.shadow == 1).all()
    # Only ambient light (no directional band): nothing to shadow.
    r = render_face(identity, Pose(yaw=15), ambient, 96, light_dir=oblique)
    assert (r.shadow == 1).all()


def test_swap_changes_the_inner_face_only() -> None:
    rng = np.random.default_rng(2)
    target_light = sample_light(rng)
    donor_light = sample_light(rng, avoid=target_light.direction, min_separation=45)
    pose = Pose(yaw=8, pitch=-4)
    target = render_face(
        Identity.random(rng), pose, target_light.lighting, 96, target_light.direction, rng
    )
    donor = render_face(
        Identity.random(rng), pose, donor_light.lighting, 96, donor_light.direction, rng
    )
    region = swap_region(target, donor)
    assert 0.05 < region.mean() < 0.4
    for blend in BLENDS:
        fake = composite(target, donor, blend)
        diff = np.abs(fake.astype(int) - target.image).sum(-1)
        assert (diff[~region] == 0).all(), blend
        assert diff[region].mean() > 15, blend
    with pytest.raises(ValueError, match="unknown blend"):
        composite(target, donor, "paste")


def test_swap_video_differs_from_its_target_inside_only() -> None:
    samples = plan(SMALL)
    fake = next(s for s in samples if s.kind == "video" and s.label == 1)
    cfg = SMALL
    scene = make_scene(cfg, fake.origin, cfg.n_frames)
    target = render_scene(cfg, identity_of(cfg, fake.identity), scene, fake.origin)
    frames = render_swap(cfg, fake, scene, target)
    assert frames.shape == (cfg.n_frames, cfg.size, cfg.size, 3)
    for frame, t in zip(frames, target, strict=True):
        changed = (frame != t.image).any(-1)
        assert not changed[t.inner < 0.5].any()
        assert changed[t.inner > 0.9].mean() > 0.5


def _lighting_gap(image: np.ndarray, r, inner: np.ndarray) -> float:
    """Distance between SH lightings fitted to the inner face and to the rest of the face."""
    observed = srgb_to_linear(image / 255.0)
    scale = r.albedo * r.shadow[..., None]
    fits = [
        sh.fit_lighting(r.normal, observed, scale, region)
        for region in (r.mask & inner, r.mask & ~inner & (r.inner == 0))
    ]
    return float(np.linalg.norm(fits[0] - fits[1]))


def test_swaps_show_a_lighting_inconsistency() -> None:
    """The study's premise: with the target's geometry, inner and outer face disagree on light."""
    rng = np.random.default_rng(3)
    real_gaps, fake_gaps = [], []
    for _ in range(4):
        target_light = sample_light(rng)
        donor_light = sample_light(rng, avoid=target_light.direction, min_separation=45)
        pose = Pose(yaw=rng.uniform(-10, 10))
        target = render_face(
            Identity.random(rng), pose, target_light.lighting, 96, target_light.direction, rng
        )
        donor = render_face(
            Identity.random(rng), pose, donor_light.lighting, 96, donor_light.direction, rng
        )
        inner = swap_region(target, donor)
        real_gaps.append(_lighting_gap(target.image, target, inner))
        fake_gaps.append(_lighting_gap(composite(target, donor, "feather"), target, inner))
    assert np.mean(fake_gaps) > 3 * np.mean(real_gaps)


def test_config_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'identitys'.*known options"):
        SynthConfig.from_mapping({"identitys": 3})
    with pytest.raises(ValueError, match="size must be an integer"):
        SynthConfig.from_mapping({"size": 64.5})
    with pytest.raises(ValueError, match="fps must be a number"):
        SynthConfig.from_mapping({"fps": "fast"})
    with pytest.raises(ValueError, match="size must be an even"):
        SynthConfig.from_mapping({"size": 65})
    with pytest.raises(ValueError, match="val gets 1 of 4 identities"):
        SynthConfig.from_mapping(
            {"identities": 4, "splits": {"train": 0.5, "val": 0.25, "test": 0.25}}
        )
    with pytest.raises(ValueError, match="frames_per_video"):
        SynthConfig.from_mapping({"seconds": 0.2, "fps": 10, "frames_per_video": 5})
    with pytest.raises(ValueError, match="train gets 1 of 2 identities"):
        SynthConfig.from_mapping({"identities": 2, "fakes_per_real": 0, "splits": [0.5, 0.5, 0]})
    assert SynthConfig.from_mapping(
        {"identities": 2, "fakes_per_real": 0, "images_per_class": 0, "splits": [0.5, 0.5, 0]}
    ).split_sizes() == (1, 1, 0)
    cfg = SynthConfig.from_mapping({"identities": 6, "splits": [0.5, 0.5, 0], "seconds": 3})
    assert cfg.split_sizes() == (3, 3, 0) and cfg.n_frames == 45


def test_cli_writes_a_dataset_and_reports_bad_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "demo.yaml"
    config.write_text(
        "seed: 1\nframes:\n  per_video: 2\nsynth:\n  identities: 2\n  videos_per_identity: 1\n"
        "  images_per_class: 0\n  size: 48\n  seconds: 0.5\n  fps: 8\n"
        "  splits: {train: 1.0, val: 0.0, test: 0.0}\n"
    )
    out = tmp_path / "dataset"
    assert cli_main(["synth", "--out", str(out), "--config", str(config), "--seed", "5"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "manifest.tsv")
    rows = read_tsv(out / "manifest.tsv")
    assert [r["label"] for r in rows] == ["0", "1", "0", "1"]
    assert np.load(out / "truth" / f"{rows[0]['sample_id']}.npz")["frame_index"].shape == (2,)

    config.write_text("synth:\n  identities: 4\n  colour: red\n")
    assert cli_main(["synth", "--out", str(out), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "'colour'" in err


def test_planted_signal_states_the_generator_parameters() -> None:
    cfg = SynthConfig(identities=8, size=64, fps=10, seconds=1.5, crf=30, seed=7)
    text = planted_signal(cfg)
    assert f"at least {DONOR_LIGHT_SEPARATION:g} degrees away" in text
    assert f"at least {GENERATOR_LIGHT_SEPARATION:g} degrees apart" in text
    for fact in ("64 px", "10 fps", "1.5 s clips", "crf 30", "8 identities", "seed 7"):
        assert fact in text, fact
