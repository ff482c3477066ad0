"""The synthetic dataset: configuration, a cheap plan of its samples, and the writer.

Layout written under the dataset folder::

    videos/{sample_id}.mp4    H.264 (yuv420p) face videos, real and face-swapped
    images/{sample_id}.png    still images, real and fake
    truth/{sample_id}.npz     ground truth of every real sample at the extracted frames
    manifest.tsv              sample_id, path, label, group, split, kind, source

Every random choice is seeded by ``(seed, what, sample_id)``, so a sample's content does not
depend on the order or the thread that renders it, and the same config gives the same
files, byte for byte (see :func:`write_video` for what that takes of x264).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from unrender import sh
from unrender.io import atomic_open, atomic_path, write_image, write_tsv
from unrender.synth.face import Identity
from unrender.synth.render import (
    DEFAULT_NOISE,
    FaceRender,
    Light,
    Pose,
    expose,
    keep_in_mask,
    render_face,
    sample_light,
)
from unrender.synth.swap import composite
from unrender.video import even_frame_indices

MANIFEST_COLUMNS = ("sample_id", "path", "label", "group", "split", "kind", "source")
SPLITS = ("train", "val", "test")

#: Key lights of a swap's donor and its target differ by at least this angle (degrees).
DONOR_LIGHT_SEPARATION = 80.0
#: The two key lights of a "generator" fake still differ by at least this angle (degrees).
GENERATOR_LIGHT_SEPARATION = 60.0


@dataclass(frozen=True)
class SynthConfig:
    """Size and look of the synthetic dataset.

    identities: distinct people; videos_per_identity: real videos of each; fakes_per_real:
    face swaps made from each real video (each with another donor); images_per_class: real
    stills and fake stills (each); size: frame side in pixels (even); seconds, fps: video
    length; crf: x264 quality (0-51, lower is better); frames_per_video: frames the pipeline
    extracts per video (ground truth is stored at exactly those); seed: seeds everything;
    splits: (train, val, test) fractions of the identities.
    """

    identities: int = field(default=12, metadata={"help": "distinct people"})
    videos_per_identity: int = field(default=2, metadata={"help": "real videos per person"})
    fakes_per_real: int = field(
        default=1, metadata={"help": "face swaps made from each real video"}
    )
    images_per_class: int = field(default=12, metadata={"help": "real stills, and fake stills"})
    size: int = field(default=128, metadata={"help": "frame side in pixels (even)"})
    seconds: float = field(default=2.0, metadata={"help": "video length in seconds"})
    fps: int = field(default=15, metadata={"help": "video frame rate"})
    crf: int = field(default=23, metadata={"help": "x264 quality, 0-51, lower is better"})
    frames_per_video: int = field(
        default=5, metadata={"help": "frames the pipeline extracts per video"}
    )
    seed: int = field(default=0, metadata={"help": "seeds everything"})
    splits: tuple[float, float, float] = field(
        default=(0.5, 0.25, 0.25), metadata={"help": "train, val, test fractions of identities"}
    )

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(f"synth: {message}")

        need(self.identities >= 2, f"identities must be >= 2, got {self.identities}")
        for name in ("videos_per_identity", "fakes_per_real", "images_per_class", "seed"):
            need(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        need(
            32 <= self.size <= 1024 and self.size % 2 == 0,
            f"size must be an even number of pixels in 32..1024, got {self.size}",
        )
        need(1 <= self.fps <= 120, f"fps must be in 1..120, got {self.fps}")
        need(0 <= self.crf <= 51, f"crf must be in 0..51, got {self.crf}")
        need(self.seconds > 0, f"seconds must be > 0, got {self.seconds}")
        need(
            1 <= self.frames_per_video <= self.n_frames,
            f"frames_per_video must be in 1..{self.n_frames} (seconds x fps), "
            f"got {self.frames_per_video}",
        )
        need(
            len(self.splits) == 3
            and min(self.splits) >= 0
            and self.splits[0] > 0
            and abs(sum(self.splits) - 1) < 1e-6,
            f"splits (train, val, test) must be >= 0, train > 0, and sum to 1, got {self.splits}",
        )
        # A swap's donor comes from its target's split, so every used split needs, beside
        # each target, as many other identities as one target has donors.
        donors_needed = max(self.fakes_per_real, 1 if self.images_per_class > 0 else 0)
        for split, count, fraction in zip(SPLITS, self.split_sizes(), self.splits, strict=True):
            need(
                fraction == 0 or count >= donors_needed + 1,
                f"{split} gets {count} of {self.identities} identities, but each used split "
                f"needs at least {donors_needed + 1} (a swap's donor comes from its target's "
                "split): raise identities or change splits",
            )

    @property
    def n_frames(self) -> int:
        """Frames per video (``round(seconds * fps)``)."""
        return max(1, round(self.seconds * self.fps))

    def split_sizes(self) -> tuple[int, int, int]:
        """Identities in (train, val, test)."""
        n_val = round(self.identities * self.splits[1])
        n_test = round(self.identities * self.splits[2])
        return (self.identities - n_val - n_test, n_val, n_test)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> SynthConfig:
        """Build from a config mapping (the ``synth:`` section of a config file).

        Unknown keys, wrong types and out-of-range values raise ValueError naming the key.
        ``splits`` may be a mapping ``{train: .., val: .., test: ..}`` or a list of three.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(
                f"synth: unknown option(s) {', '.join(map(repr, unknown))}; "
                f"known options: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for name, value in options.items():
            default = known[name].default
            if name == "splits":
                values[name] = _parse_splits(value)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"synth: {name} must be a number, got {value!r}")
            elif isinstance(default, int) and value != int(value):
                raise ValueError(f"synth: {name} must be an integer, got {value!r}")
            else:
                values[name] = type(default)(value)
        return cls(**values)


def planted_signal(cfg: SynthConfig) -> str:
    """What the generator builds into the fakes, with its parameters: one Markdown paragraph.

    Every detector's score on this dataset measures how well it finds *these* planted
    differences; it is a check of the machinery, not evidence about real deepfakes.
    """
    return (
        f"The fakes' lighting mismatch is planted by the generator: a face swap pastes the "
        f"inner face of another identity rendered under its own key light, at least "
        f"{DONOR_LIGHT_SEPARATION:g} degrees away from the target's (colour-matched "
        f'`feather` or Poisson `poisson` blend, alignment off by about 1%); a "generator" '
        f"fake still lights the left and right halves of the face by two key lights at "
        f"least {GENERATOR_LIGHT_SEPARATION:g} degrees apart and has no freckles. Reals and "
        f"fakes otherwise share renderer, {cfg.size} px frames, {cfg.fps} fps, "
        f"{cfg.seconds:g} s clips and x264 crf {cfg.crf}; {cfg.identities} identities, "
        f"{cfg.videos_per_identity} real video(s) each, {cfg.fakes_per_real} swap(s) per "
        f"real video, {cfg.images_per_class} real and {cfg.images_per_class} fake stills, "
        f"seed {cfg.seed}."
    )


def _parse_splits(value: Any) -> tuple[float, float, float]:
    """``{train, val, test}`` mapping or a 3-sequence of fractions -> a 3-tuple of floats."""
    if isinstance(value, Mapping):
        extra = sorted(set(value) - set(SPLITS))
        if extra:
            raise ValueError(f"synth: splits has unknown key(s) {extra}; use train, val, test")
        value = [value.get(s, 0.0) for s in SPLITS]
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"synth: splits must be {{train, val, test}} fractions, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


@dataclass(frozen=True)
class PlannedSample:
    """One manifest row of the dataset, plus what is needed to render it.

    The first seven fields are the manifest columns. identity: index of the person whose
    video or image it is (the swap target for fakes); donor: index of the person whose
    inner face a swap pastes in, else None; origin: sample_id of the real video a fake
    video is made from, else None; blend: swap blend (see :mod:`unrender.synth.swap`) or "".
    """

    sample_id: str
    path: str
    label: int
    group: str
    split: str
    kind: str
    source: str
    identity: int
    donor: int | None = None
    origin: str | None = None
    blend: str = ""

    def row(self) -> dict[str, str]:
        """The manifest row: column -> text."""
        return {c: str(getattr(self, c)) for c in MANIFEST_COLUMNS}


def _rng(seed: int, *tags: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a tuple of tags (stable across runs and machines)."""
    digest = hashlib.sha256("\0".join(tags).encode()).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], np.uint32).tolist()])


def identity_names(cfg: SynthConfig) -> list[str]:
    """Names (manifest groups) of the identities: id00, id01, ..."""
    width = max(2, len(str(cfg.identities - 1)))
    return [f"id{i:0{width}d}" for i in range(cfg.identities)]


def identity_splits(cfg: SynthConfig) -> list[str]:
    """The split of each identity (a seeded shuffle cut to :meth:`SynthConfig.split_sizes`)."""
    order = _rng(cfg.seed, "splits").permutation(cfg.identities)
    splits = [""] * cfg.identities
    start = 0
    for split, count in zip(SPLITS, cfg.split_sizes(), strict=True):
        for i in order[start : start + count]:
            splits[int(i)] = split
        start += count
    return splits


def plan(cfg: SynthConfig) -> list[PlannedSample]:
    """Every sample of the dataset, in manifest order, without rendering anything.

    Videos: each identity's real videos, each followed by its face swaps. Images: real
    stills, then fake stills (alternately swaps and "generator" fakes). Groups are the
    target identity; a donor always comes from its target's split.
    """
    names, splits = identity_names(cfg), identity_splits(cfg)
    members = {s: [i for i in range(cfg.identities) if splits[i] == s] for s in SPLITS}
    rng = _rng(cfg.seed, "plan")

    def donors(target: int, count: int) -> list[int]:
        pool = [i for i in members[splits[target]] if i != target]
        return [pool[int(j)] for j in rng.choice(len(pool), size=count, replace=False)]

    def sample(sid: str, label: int, target: int, kind: str, source: str, **kw: Any) -> None:
        folder, ext = ("videos", "mp4") if kind == "video" else ("images", "png")
        samples.append(
            PlannedSample(
                sample_id=sid,
                path=f"{folder}/{sid}.{ext}",
                label=label,
                group=names[target],
                split=splits[target],
                kind=kind,
                source=source,
                identity=target,
                **kw,
            )
        )

    samples: list[PlannedSample] = []
    for i in range(cfg.identities):
        for v in range(cfg.videos_per_identity):
            real = f"real_{names[i]}_v{v}"
            sample(real, 0, i, "video", "synth-real")
            for d in donors(i, cfg.fakes_per_real):
                blend = str(rng.choice(["feather", "poisson"]))
                sid = f"swap_{names[i]}_v{v}_{names[d]}"
                sample(sid, 1, i, "video", f"synth-swap-{blend}", donor=d, origin=real, blend=blend)
    real_targets = _cycle(rng, cfg.identities, cfg.images_per_class)
    for k, i in enumerate(real_targets):
        sample(f"img_real_{k:02d}_{names[i]}", 0, i, "image", "synth-real")
    fake_targets = _cycle(rng, cfg.identities, cfg.images_per_class)
    for k, i in enumerate(fake_targets):
        if k % 2 == 0:
            (d,) = donors(i, 1)
            blend = str(rng.choice(["feather", "poisson"]))
            sid = f"img_swap_{k:02d}_{names[i]}_{names[d]}"
            sample(sid, 1, i, "image", f"synth-swap-{blend}", donor=d, blend=blend)
        else:
            sample(f"img_gan_{k:02d}_{names[i]}", 1, i, "image", "synth-gan")
    return samples


def _cycle(rng: np.random.Generator, n: int, count: int) -> list[int]:
    """``count`` identity indices cycling through shuffled rounds of all ``n``."""
    out: list[int] = []
    while len(out) < count:
        out.extend(int(i) for i in rng.permutation(n))
    return out[:count]


# ----------------------------------------------------------------------------- rendering


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything about one shot except the identity.

    poses, lights: one per frame; background: float32 (S, S, 3) linear RGB; noise:
    (shot, read) sensor noise parameters.
    """

    poses: list[Pose]
    lights: list[Light]
    background: np.ndarray
    noise: tuple[float, float] = DEFAULT_NOISE


def _wobble(rng: np.random.Generator, t: np.ndarray, base: float, amplitude: float) -> np.ndarray:
    """A smooth random signal: ``U(-base, base)`` plus two slow sines (0.1-0.5 Hz)."""
    out = np.full_like(t, rng.uniform(-base, base))
    for _ in range(2):
        freq, phase = rng.uniform(0.1, 0.5), rng.uniform(0, 2 * np.pi)
        out += rng.uniform(0, amplitude / 2) * np.sin(2 * np.pi * freq * t + phase)
    return out


def _pose_track(rng: np.random.Generator, n_frames: int, fps: int) -> list[Pose]:
    """Smooth head motion: yaw within about +-20 deg, pitch +-10, roll +-8, a small drift."""
    t = np.arange(n_frames) / fps
    yaw, pitch, roll = _wobble(rng, t, 12, 8), _wobble(rng, t, 6, 4), _wobble(rng, t, 5, 3)
    dx, dy = _wobble(rng, t, 0.05, 0.03), _wobble(rng, t, 0.04, 0.02)
    scale = rng.uniform(0.92, 1.05) + _wobble(rng, t, 0.0, 0.02)
    return [
        Pose(
            float(yaw[i]),
            float(pitch[i]),
            float(roll[i]),
            (float(dx[i]), float(dy[i])),
            float(scale[i]),
        )
        for i in range(n_frames)
    ]


def _light_track(rng: np.random.Generator, start: Light, n_frames: int) -> list[Light]:
    """The key light turning slowly (5-20 degrees over the clip) about a random axis."""
    axis = np.cross(start.direction, rng.normal(size=3))
    axis /= np.linalg.norm(axis)
    total = np.radians(rng.uniform(5, 20))
    lights = []
    for i in range(n_frames):
        angle = total * i / max(1, n_frames - 1)
        d = start.direction
        # Rodrigues' rotation of d about the unit axis (perpendicular to d).
        turned = d * np.cos(angle) + np.cross(axis, d) * np.sin(angle)
        lights.append(start.turned(turned / np.linalg.norm(turned)))
    return lights


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A studio-like backdrop: a vertical colour gradient with soft blotches, linear RGB."""
    top, bottom = rng.uniform(0.02, 0.35, 3), rng.uniform(0.02, 0.35, 3)
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    blotch = np.kron(rng.normal(0, 1, (4, 4)), np.ones((size // 4 + 1,) * 2))[:size, :size]
    blotch = cv2.GaussianBlur(blotch.astype(np.float32), (0, 0), size / 8)
    gradient = (1 - ramp) * top + ramp * bottom
    return np.clip(gradient * (1 + 0.15 * blotch[..., None]), 0, 1).astype(np.float32)


def make_scene(cfg: SynthConfig, sample_id: str, n_frames: int) -> Scene:
    """The seeded pose track, light track, backdrop and sensor noise of a sample."""
    rng = _rng(cfg.seed, "scene", sample_id)
    poses = _pose_track(rng, n_frames, cfg.fps)
    lights = _light_track(rng, sample_light(rng), n_frames)
    noise = (float(rng.uniform(3e-4, 1e-3)), float(rng.uniform(1.5e-3, 4e-3)))
    return Scene(poses, lights, _background(rng, cfg.size), noise)


def identity_of(cfg: SynthConfig, index: int) -> Identity:
    """The seeded identity number ``index``."""
    return Identity.random(_rng(cfg.seed, "identity", str(index)))


def render_scene(
    cfg: SynthConfig, identity: Identity, scene: Scene, noise_tag: str
) -> list[FaceRender]:
    """Render every frame of a scene; sensor noise is seeded by ``noise_tag``."""
    rng = _rng(cfg.seed, "noise", noise_tag)
    return [
        render_face(
            identity,
            pose,
            light.lighting,
            cfg.size,
            light.direction,
            rng,
            scene.background,
            scene.noise,
        )
        for pose, light in zip(scene.poses, scene.lights, strict=True)
    ]


def render_swap(
    cfg: SynthConfig, sample: PlannedSample, target_scene: Scene, target: list[FaceRender]
) -> np.ndarray:
    """The frames of a face swap: uint8 (T, S, S, 3).

    The donor is rendered at the target's poses (slightly misaligned, as a swap tool's
    alignment is) under its own key light, at least DONOR_LIGHT_SEPARATION degrees away.
    """
    if sample.donor is None:
        raise ValueError(f"{sample.sample_id} has no donor; only swaps can be rendered as swaps")
    rng = _rng(cfg.seed, "donor", sample.sample_id)
    offset = rng.normal(0, 0.008, 2)
    scale = rng.uniform(0.97, 1.03)
    poses = [
        replace(
            p,
            shift=(
                p.shift[0] + offset[0] + rng.normal(0, 0.002),
                p.shift[1] + offset[1] + rng.normal(0, 0.002),
            ),
            scale=p.scale * scale,
        )
        for p in target_scene.poses
    ]
    start = sample_light(
        rng, avoid=target_scene.lights[0].direction, min_separation=DONOR_LIGHT_SEPARATION
    )
    donor_scene = replace(target_scene, poses=poses, lights=_light_track(rng, start, len(poses)))
    donor = render_scene(cfg, identity_of(cfg, sample.donor), donor_scene, sample.sample_id)
    return np.stack([composite(t, d, sample.blend) for t, d in zip(target, donor, strict=True)])


def render_generated(cfg: SynthConfig, sample: PlannedSample) -> np.ndarray:
    """A "generator" fake still: uint8 (S, S, 3).

    It mimics an image generator that paints a plausible face without a consistent light:
    the left and right halves of the face are lit by two key lights at least
    GENERATOR_LIGHT_SEPARATION degrees apart, blended smoothly across the face, and the skin
    lacks freckles.
    """
    scene = make_scene(cfg, sample.sample_id, 1)
    rng = _rng(cfg.seed, "generated", sample.sample_id)
    identity = replace(identity_of(cfg, sample.identity), freckles=0.0)
    first = scene.lights[0]
    second = sample_light(rng, avoid=first.direction, min_separation=GENERATOR_LIGHT_SEPARATION)
    pose = scene.poses[0]
    left, right = (
        render_face(
            identity, pose, light.lighting, cfg.size, light.direction, None, scene.background
        )
        for light in (first, second)
    )
    x = (np.arange(cfg.size, dtype=np.float32) + 0.5) * 2 / cfg.size - 1 - pose.shift[0]
    weight = np.clip(0.5 + x / 0.4, 0, 1)[None, :, None]
    linear = weight * left.linear + (1 - weight) * right.linear
    return expose(linear, rng, scene.noise)


# ------------------------------------------------------------------------------- writing


def write_video(path: Path, frames: np.ndarray, fps: int, crf: int) -> None:
    """Encode uint8 (T, H, W, 3) RGB frames as H.264 yuv420p MP4, atomically.

    The bitstream is reproducible: x264 and the colour conversion run single-threaded, and
    x264's macroblock-tree rate control is off, because with it this x264 build's output
    varied from run to run (it depended on leftover heap contents) on small frames.
    """
    height, width = frames.shape[1:3]
    options = {"crf": str(crf), "x264-params": "mbtree=0"}
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        for index, frame in enumerate(frames):
            rgb = av.VideoFrame.from_ndarray(frame, format="rgb24")
            yuv = rgb.reformat(format="yuv420p", threads=1)
            yuv.pts = index
            container.mux(stream.encode(yuv))
        container.mux(stream.encode())


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as a compressed .npz with fixed timestamps (byte-reproducible), atomically."""
    with (
        atomic_open(path, "wb") as f,
        zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # Level 1: fast, and the arrays are mostly smooth or zero anyway.
            archive.writestr(info, buffer.getvalue(), zipfile.ZIP_DEFLATED, compresslevel=1)


def truth_arrays(
    renders: Sequence[FaceRender], frame_index: Sequence[int]
) -> dict[str, np.ndarray]:
    """Ground truth at the given frames (k of them), as stored in ``truth/{sample_id}.npz``.

    frame_index int64 (k,); image uint8 (k, H, W, 3); albedo, normal, shading float16
    (k, H, W, 3); shadow float16 (k, H, W); lighting float32 (k, 9, 3); mask bool (k, H, W).
    The stored shading is ``sh.shading`` of the stored (float16) normals.
    """
    picked = [renders[i] for i in frame_index]

    def stack(name: str, dtype: type) -> np.ndarray:
        return np.stack([getattr(r, name) for r in picked]).astype(dtype)

    mask = stack("mask", np.bool_)
    normal = keep_in_mask(stack("normal", np.float16), mask)
    lighting = stack("lighting", np.float32)
    return {
        "frame_index": np.asarray(frame_index, np.int64),
        "image": stack("image", np.uint8),
        "albedo": stack("albedo", np.float16),
        "normal": normal,
        "shading": sh.shading(normal.astype(np.float32), lighting).astype(np.float16),
        "shadow": stack("shadow", np.float16),
        "lighting": lighting,
        "mask": mask,
    }


def _write_unit(cfg: SynthConfig, unit: tuple[PlannedSample, ...], out_dir: Path) -> None:
    """Render and write one real sample and the fakes made from it, or one fake still."""
    head = unit[0]
    target = identity_of(cfg, head.identity)
    if head.kind == "video":
        scene = make_scene(cfg, head.sample_id, cfg.n_frames)
        renders = render_scene(cfg, target, scene, head.sample_id)
        write_video(out_dir / head.path, np.stack([r.image for r in renders]), cfg.fps, cfg.crf)
        frame_index = even_frame_indices(cfg.n_frames, cfg.frames_per_video)
        write_npz(out_dir / "truth" / f"{head.sample_id}.npz", truth_arrays(renders, frame_index))
        for fake in unit[1:]:
            frames = render_swap(cfg, fake, scene, renders)
            write_video(out_dir / fake.path, frames, cfg.fps, cfg.crf)
    elif head.source == "synth-gan":
        write_image(out_dir / head.path, render_generated(cfg, head))
    else:
        scene = make_scene(cfg, head.sample_id, 1)
        renders = render_scene(cfg, target, scene, head.sample_id)
        if head.label == 0:
            write_image(out_dir / head.path, renders[0].image)
            write_npz(out_dir / "truth" / f"{head.sample_id}.npz", truth_arrays(renders, [0]))
        else:
            write_image(out_dir / head.path, render_swap(cfg, head, scene, renders)[0])


def _units(samples: Sequence[PlannedSample]) -> list[tuple[PlannedSample, ...]]:
    """Group fake videos with the real video they are made from; stills stand alone."""
    fakes: dict[str, list[PlannedSample]] = {}
    for s in samples:
        if s.origin is not None:
            fakes.setdefault(s.origin, []).append(s)
    return [(s, *fakes.get(s.sample_id, [])) for s in samples if s.origin is None]


def write_dataset(cfg: SynthConfig, out_dir: str | Path, workers: int | None = None) -> Path:
    """Render and write the whole dataset under ``out_dir``; return the manifest path.

    workers: parallel threads (default: up to 2, as many as there are CPUs); the files do
    not depend on it. Threads, not processes: OpenCV, numpy and x264 release the GIL in
    their heavy loops, and forking a process whose OpenCV thread pool already ran can
    deadlock. The manifest is written last, so its presence means the dataset is complete.
    """
    out = Path(out_dir)
    samples = plan(cfg)
    units = _units(samples)
    n_workers = min(2, os.cpu_count() or 1) if workers is None else max(1, workers)
    with (
        ThreadPoolExecutor(n_workers) as pool,
        tqdm(total=len(units), desc="synth", unit="sample", disable=None) as progress,
    ):
        jobs = [pool.submit(_write_unit, cfg, unit, out) for unit in units]
        for job in jobs:
            job.result()
            progress.update()
    manifest = out / "manifest.tsv"
    write_tsv(manifest, [s.row() for s in samples], MANIFEST_COLUMNS)
    return manifest
