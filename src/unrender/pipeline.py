"""The per-shard stages that the Snakemake rules run, usable without Snakemake.

Each stage reads its inputs, writes its outputs atomically, and records every refused item
in a rejections file: the run goes on and nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unrender import manifest, rejected
from unrender.io import read_tsv, write_image, write_tsv
from unrender.rejected import RejectedInput, Rejection

log = logging.getLogger(__name__)

#: Columns of ``frames/{shard}.tsv``, one row per frame: ``requested`` is the evenly spaced
#: index asked for, ``frame_index`` the one used. ``repeat`` says why a frame is not a new
#: one: ``damaged`` where the requested frame cannot be decoded (the nearest decodable one
#: stands in) or where a frame repeats because the file is truncated (its header claims
#: more frames than it holds), ``short`` where it repeats because the video is shorter than
#: ``frames.per_video``; empty otherwise.
FRAME_INDEX_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "k",
    "requested",
    "frame_index",
    "repeat",
    "n_frames",
    "face",
    "path",
)
#: Column of data_summary.tsv's total row: accepted samples with frames repeated for damage.
DAMAGED_COLUMN = "frames_repeated_damaged"
SUMMARY_COLUMNS: tuple[str, ...] = (
    "stage",
    "accepted",
    "rejected",
    "face_fallback",
    DAMAGED_COLUMN,
)


def split_manifest(
    manifest_path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    shard_paths: Sequence[str | os.PathLike[str]],
    rejected_path: str | os.PathLike[str],
    shard_size: int,
    allow_outside_root: bool = False,
) -> tuple[int, int]:
    """Validate a manifest and write its accepted rows shard by shard.

    ``shard_paths[i]`` receives the accepted rows among rows ``[i*shard_size, (i+1)*shard_size)``.
    Returns ``(accepted, rejected)`` counts.
    """
    rows = manifest.read(manifest_path)
    expected = manifest.shard_ids(len(rows), shard_size)
    if len(expected) != len(shard_paths):
        raise ValueError(
            f"{manifest_path} has {len(rows)} rows = {len(expected)} shards of {shard_size}, "
            f"but {len(shard_paths)} shard files were asked for (did the manifest change "
            "after the workflow started? rerun snakemake)"
        )
    samples, refusals = manifest.validate(rows, root, allow_outside_root)
    for i, out in enumerate(shard_paths):
        block = samples[i * shard_size : (i + 1) * shard_size]
        manifest.write_samples(out, [s for s in block if s is not None])
    rejected.write(rejected_path, refusals)
    return len(rows) - len(refusals), len(refusals)


@dataclass(frozen=True)
class FrameOptions:
    """How frames are taken (the ``frames`` config section; defaults live in the schema):
    count per video, square size in px (``None``: source size, uncropped), short-video policy,
    max pixels, and whether (and how) a face crop replaces the centre crop."""

    per_video: int
    size: int | None
    short_video: str
    max_image_pixels: int
    face: bool
    face_detector: str
    face_margin: float
    no_face: str

    @classmethod
    def from_config(cls, frames: Mapping[str, object]) -> FrameOptions:
        """From a ``frames`` section: validated, missing keys from the schema's defaults.

        Unknown keys, wrong types and out-of-range values raise
        :class:`unrender.config.ConfigError` naming ``frames.key``.
        """
        from unrender.config import section

        return cls(**section("frames", frames))


@dataclass(frozen=True)
class Frames:
    """The frames of one sample: uint8 (k, S, S, 3) RGB, the frame index used for each slot,
    the video's frame count, and the crop: ``detected``, ``fallback-center`` or ``off``."""

    frames: np.ndarray
    indices: list[int]
    requested: list[int]
    n_frames: int
    face: str
    truncated: bool = False

    def repeats(self) -> list[str]:
        """Per slot, why its frame is not a new one (see :data:`FRAME_INDEX_COLUMNS`)."""
        reasons = []
        for k, (index, requested) in enumerate(zip(self.indices, self.requested, strict=True)):
            if index != requested:
                reasons.append("damaged")
            elif index in self.indices[:k]:
                reasons.append("damaged" if self.truncated else "short")
            else:
                reasons.append("")
        return reasons


def take_frames(path: str | os.PathLike[str], kind: str, options: FrameOptions) -> Frames:
    """The ``options.per_video`` frames of a video (1 of an image), cropped and resized.

    Raises :class:`RejectedInput` with the reason when the input cannot be used.
    """
    from unrender import video

    got = video.extract(
        path,
        kind,
        options.per_video,
        short_policy=options.short_video,
        # A face crop is taken at source resolution, then resized.
        size=None if options.face else options.size,
        max_pixels=options.max_image_pixels,
    )
    if not options.face:
        return Frames(got.frames, got.indices, got.requested, got.n_frames, "off", got.truncated)
    from unrender.faces import FaceOptions, face_crops

    crop = face_crops(
        got.frames,
        FaceOptions(options.face_detector, options.face_margin, options.size, options.no_face),
    )
    face = "fallback-center" if crop.fallback else "detected"
    return Frames(crop.frames, got.indices, got.requested, got.n_frames, face, got.truncated)


def extract_shard(
    shard_tsv: str | os.PathLike[str],
    root: str | os.PathLike[str],
    options: FrameOptions,
    frames_dir: str | os.PathLike[str],
    accepted_tsv: str | os.PathLike[str],
    index_tsv: str | os.PathLike[str],
    rejected_path: str | os.PathLike[str],
) -> tuple[int, int]:
    """Extract the frames of every sample of a shard into ``frames_dir/{sample_id}/{k}.png``.

    Writes the samples whose frames were extracted to ``accepted_tsv``, one row per frame to
    ``index_tsv`` and the refused samples to ``rejected_path``. Returns (accepted, rejected).
    """
    frames_dir = Path(frames_dir)
    frames_dir.mkdir(parents=True, exist_ok=True)
    accepted: list[manifest.Sample] = []
    index_rows: list[dict[str, object]] = []
    refusals: list[Rejection] = []
    for s in manifest.read_samples(shard_tsv):
        try:
            got = take_frames(manifest.resolve(root, s.path), s.kind, options)
        except RejectedInput as e:
            refusals.append(Rejection(s.sample_id, s.path, "frames", str(e)))
            log.warning("rejected %s: %s", s.sample_id, e)
            continue
        slots = zip(got.frames, got.indices, got.requested, got.repeats(), strict=True)
        for k, (frame, index, requested, repeat) in enumerate(slots):
            out = frames_dir / s.sample_id / f"{k}.png"
            write_image(out, frame)
            index_rows.append(
                {
                    "sample_id": s.sample_id,
                    "k": k,
                    "requested": requested,
                    "frame_index": index,
                    "repeat": repeat,
                    "n_frames": got.n_frames,
                    "face": got.face,
                    "path": out.relative_to(frames_dir.parent),
                }
            )
        if "damaged" in got.repeats():
            log.warning("%s: damaged file, frames repeated (see the repeat column)", s.sample_id)
        accepted.append(s)
    manifest.write_samples(accepted_tsv, accepted)
    write_tsv(index_tsv, index_rows, FRAME_INDEX_COLUMNS)
    rejected.write(rejected_path, refusals)
    return len(accepted), len(refusals)


#: Frames read, decomposed and written together when the backend picks its own batch size:
#: bounds memory (a frame's outputs are a few MB) without starving a GPU.
FRAMES_PER_CALL = 16


def decompose_shard(
    shard_tsv: str | os.PathLike[str],
    frames_dir: str | os.PathLike[str],
    modalities_root: str | os.PathLike[str],
    shard: str,
    backend_name: str,
    backend_options: Mapping[str, object],
    batch_size: int | None = None,
    threads: int | None = None,
) -> int:
    """Decompose every frame of a shard into the 5 modalities; return the frame count.

    Frames are batched across samples (``batch_size`` frames per backend call, or
    :data:`FRAMES_PER_CALL` when the backend batches on its own: ``modalities.batch_size:
    null``) so a GPU backend sees full batches. ``threads`` caps torch's CPU threads for a
    backend on torch.
    """
    from unrender.io import read_image
    from unrender.modalities import MODALITIES, get_backend
    from unrender.modalities.files import write_decomposition

    backend = get_backend(backend_name, **backend_options)
    if threads and "torch" in sys.modules:
        # Without a cap torch takes every core while sibling jobs do too: several-fold slower.
        sys.modules["torch"].set_num_threads(threads)
    frames_dir = Path(frames_dir)
    for m in MODALITIES:
        # Every modality folder exists even for a shard whose samples were all refused.
        (Path(modalities_root) / m / shard).mkdir(parents=True, exist_ok=True)
    items = [
        (s.sample_id, int(p.stem), p)
        for s in manifest.read_samples(shard_tsv)
        for p in sorted((frames_dir / s.sample_id).glob("*.png"), key=lambda q: int(q.stem))
    ]
    step = batch_size or FRAMES_PER_CALL
    for start in range(0, len(items), step):
        batch = items[start : start + step]
        images = np.stack([read_image(p) for _, _, p in batch])
        out = backend.decompose(images)
        for i, (sid, k, _) in enumerate(batch):
            one = {key: value[i : i + 1] for key, value in out.items()}
            write_decomposition(modalities_root, shard, sid, [k], one)
        log.info("decomposed %d/%d frames", start + len(batch), len(items))
    return len(items)


def summarise_data(
    rejection_files: Sequence[str | os.PathLike[str]],
    accepted_shards: Sequence[str | os.PathLike[str]],
    frame_indexes: Sequence[str | os.PathLike[str]],
    rejected_out: str | os.PathLike[str],
    summary_out: str | os.PathLike[str],
) -> tuple[int, int]:
    """Merge the per-job rejections into one file and count accepted vs rejected samples.

    The summary TSV has one row per stage (``stage, rejected``) and a ``total`` row with the
    accepted and rejected sample counts and, in ``face_fallback``, how many accepted samples
    were cropped at the frame centre because no face was found in any of their frames
    (``face`` of their rows in ``frame_indexes``, the ``frames/{shard}.tsv`` files; 0 when
    face crops are off), and in :data:`DAMAGED_COLUMN` how many accepted samples have a
    frame marked ``damaged`` in the ``repeat`` column there. Returns ``(accepted, rejected)``.
    """
    refusals = [r for p in rejection_files for r in rejected.read(p)]
    rejected.write(rejected_out, refusals)
    n_accepted = sum(len(manifest.read_samples(p)) for p in accepted_shards)
    fallbacks = {
        row["sample_id"]
        for p in frame_indexes
        for row in read_tsv(p)
        if row["face"] == "fallback-center"
    }
    by_stage: dict[str, int] = {}
    for r in refusals:
        by_stage[r.stage] = by_stage.get(r.stage, 0) + 1
    rows: list[dict[str, object]] = [
        {"stage": stage, "accepted": "", "rejected": n, "face_fallback": ""}
        for stage, n in by_stage.items()
    ]
    damaged = {
        r["sample_id"] for p in frame_indexes for r in read_tsv(p) if r["repeat"] == "damaged"
    }
    rows.append(
        {
            "stage": "total",
            "accepted": n_accepted,
            "rejected": len(refusals),
            "face_fallback": len(fallbacks),
            DAMAGED_COLUMN: len(damaged),
        }
    )
    write_tsv(summary_out, rows, SUMMARY_COLUMNS)
    log.info("%d samples accepted, %d rejected", n_accepted, len(refusals))
    if fallbacks:
        log.warning(
            "no face found in %d of %d accepted samples: cropped at the frame centre "
            "(their rows in frames/{shard}.tsv have face fallback-center)",
            len(fallbacks),
            n_accepted,
        )
    return n_accepted, len(refusals)
