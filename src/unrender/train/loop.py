"""Training one model of a run: best epoch chosen on val, test scored once at the end.

Every model gets the same budget rule: train until the val AUC has not improved for
``patience`` epochs in a row (early stopping), or ``max_epochs``, whichever comes first; the
epoch kept is the best on val. A model that keeps its last epoch at ``max_epochs`` was still
improving, and meta.json says so (``chose_last_epoch``).

Deterministic on CPU for a given seed and thread count: weights are initialised after
``torch.manual_seed(seed)``, batches are shuffled and augmented from generators seeded from
``seed``, data are read in the main process on CPU (on CUDA by worker processes, which
change no value: items carry no randomness), and ``torch.use_deterministic_algorithms`` is on
while training (:func:`deterministic`; on CPU it costs nothing measurable,
bench/train_throughput.md). Class imbalance is met with ``pos_weight = n_real / n_fake`` in
the loss, so a model cannot win by predicting the majority class.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn.functional import binary_cross_entropy_with_logits
from torch.utils.data import DataLoader
from tqdm import tqdm

from unrender.devices import resolve_device
from unrender.evaluate import predictions
from unrender.evaluate.delong import placements
from unrender.train import checkpoint
from unrender.train.data import (
    FrameInputs,
    PackedDataset,
    batch_ring,
    packed_loader,
    reuse_freed_memory,
)
from unrender.train.inputs import MODEL_INPUTS
from unrender.train.models import Classifier, LightingEncoder, build_model
from unrender.train.packs import Item, open_packs
from unrender.train.splits import SPLITS, read_splits

log = logging.getLogger(__name__)

#: Rows 3, 4 and 7 of the SH basis are odd in x (x, xy, xz: see :mod:`unrender.sh`); a
#: horizontal flip negates them. Indices into the flattened (27,) ``L27[3 * j + c]``.
_ODD_IN_X = torch.tensor([3 * j + c for j in (3, 4, 7) for c in range(3)])


@dataclass(frozen=True)
class TrainOptions:
    """The ``train`` config section (see src/unrender/schema.yaml, which holds the defaults),
    flattened, plus the run's seed."""

    arch: str
    pretrained: str
    image_size: int
    max_epochs: int
    patience: int
    batch_size: int
    lr: float
    weight_decay: float
    flip: bool
    jpeg_quality: int | None
    device: str
    val_fraction: float
    test_fraction: float
    seed: int

    @classmethod
    def from_config(cls, train: Mapping[str, Any], seed: int) -> TrainOptions:
        """From a ``train`` section (nested ``augment`` and ``split``): validated, missing keys
        from the schema's defaults; unknown keys raise :class:`unrender.config.ConfigError`."""
        from unrender.config import section

        full = section("train", train)
        flat = {k: v for k, v in full.items() if k not in ("augment", "split")}
        flat.update(full["augment"])
        flat.update({f"{k}_fraction": v for k, v in full["split"].items()})
        return cls(**flat, seed=seed)


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch and require deterministic kernels inside the block; restore after."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by CUDA determinism
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)


def augment(
    batch: FrameInputs, generator: torch.Generator, flip: bool, jpeg_quality: int | None
) -> FrameInputs:
    """Training augmentation of a collated batch (new tensors; ``batch`` is left alone).

    flip: each item is mirrored left-right with probability 1/2, every input of the item
    together, so the modalities stay consistent: the normal map's x channel is negated
    (uint8 ``v -> 255 - v``) and the SH coefficients odd in x change sign.
    jpeg_quality: each ``rgb`` picture is re-encoded as JPEG at this quality with probability
    1/2. Only ``rgb``: compression happens to the video, upstream of the decomposition, so a
    JPEG-compressed normal map is an artefact no real input shows.
    """
    out = dict(batch)
    n = len(next(iter(batch.values())))
    if flip:
        mirrored = torch.rand(n, generator=generator) < 0.5
        for name, x in batch.items():
            if name == "lighting":
                flipped = x.clone()
                flipped[:, _ODD_IN_X] = -flipped[:, _ODD_IN_X]
            else:
                flipped = x.flip(-1)
                if name == "normal":
                    flipped[:, 0] = 255 - flipped[:, 0]
            out[name] = torch.where(mirrored.view(-1, *[1] * (x.ndim - 1)), flipped, x)
    if jpeg_quality is not None and "rgb" in out:
        from torchvision.io import decode_jpeg, encode_jpeg

        compress = torch.rand(n, generator=generator) < 0.5
        rgb = out["rgb"].clone()
        chosen = [i for i in range(n) if compress[i]]
        if chosen:
            encoded = encode_jpeg([rgb[i] for i in chosen], quality=jpeg_quality)
            for i, data in zip(chosen, encoded, strict=True):
                rgb[i] = decode_jpeg(data)
        out["rgb"] = rgb
    return out


def loader_options(device: torch.device, workers: int) -> dict[str, Any]:
    """DataLoader keywords for training on ``device``.

    On CUDA, ``workers`` (>= 0) worker processes read the packs (their batches reach the main
    process through the loader's :class:`~unrender.train.data.BatchRing`) and batches come in
    pinned memory, so the host-to-GPU copy (non-blocking in :func:`_to`) overlaps the step. On CPU
    none: the step itself needs the job's cores, and the main process reads the memory-mapped
    packs at thousands of items/s (BENCHMARKS.md).

    Workers start anew each epoch (not ``persistent_workers``): a persistent loader draws its
    workers' seed from the shuffling generator once instead of once per epoch, so every epoch
    after the first would be shuffled otherwise than without workers. Started per epoch, the
    batches and their order are the same whatever the device and the number of workers
    (tests/test_train.py); the cost is starting them, a fraction of a second per epoch.
    """
    if device.type != "cuda":
        return {}
    return {"num_workers": workers, "pin_memory": True}


def _to(batch: FrameInputs, device: torch.device) -> FrameInputs:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def predict_logits(model: Classifier, loader: DataLoader, device: torch.device) -> torch.Tensor:
    """Fake logits, float32 (N,) on the CPU, of every item of ``loader`` in order."""
    model.eval()
    out = [model(_to(batch, device)).cpu() for batch, _ in loader]
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def recalibrate_batchnorm(model: Classifier, loader: DataLoader, device: torch.device) -> None:
    """Recompute every BatchNorm's running statistics as plain averages over ``loader``.

    With few steps per epoch, running averages lag far behind the quickly moving weights and
    eval-mode outputs saturate (the val loss explodes while the train loss is tiny);
    re-estimating them for the current weights ("precise BN") fixes that for one forward
    pass over the training set.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for batch, _ in loader:
        model(_to(batch, device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _val_scores(
    logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor
) -> tuple[float, float]:
    """Val loss and frame-level ROC AUC of float (N,) logits vs int (N,) labels.

    NaN where undefined: no val items (both), or one class only (AUC).
    """
    if len(labels) == 0:
        return math.nan, math.nan
    loss = float(binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=pos_weight))
    if len(labels.unique()) < 2:
        return loss, math.nan
    # The AUC from mid-ranks (numpy), not torchmetrics: importing torchmetrics cost each
    # training job seconds of start-up (BENCHMARKS.md, demo). Same ranks, same ties: the
    # scores are the float32 probabilities torchmetrics was given.
    fake_places, _ = placements(labels.numpy(), torch.sigmoid(logits).numpy())
    return loss, float(fake_places.mean())


def split_counts(items: Sequence[Item], splits: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Per split: frames, and samples by kind and label (``video_real``, ``image_fake``, ...)."""
    counts: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for it in items:
        c = counts.setdefault(splits[it.sample_id], {"frames": 0})
        c["frames"] += 1
        if it.sample_id not in seen:
            seen.add(it.sample_id)
            key = f"{it.kind}_{'fake' if it.label else 'real'}"
            c[key] = c.get(key, 0) + 1
    return {s: counts.get(s, {"frames": 0}) for s in SPLITS}


def _fit_lighting(model: Classifier, train: PackedDataset) -> None:
    encoder = model.encoders["lighting"]
    assert isinstance(encoder, LightingEncoder)
    encoder.fit_standardisation(train.column("lighting"))


def _fit(
    model: Classifier,
    train_loader: DataLoader,
    calibration_loader: DataLoader,
    val_loader: DataLoader,
    val_labels: torch.Tensor,
    options: TrainOptions,
    pos_weight: float,
    device: torch.device,
    writer: Any,
) -> tuple[int, list[dict[str, float]]]:
    """Run epochs until early stopping; leave ``model`` at the epoch with the best val AUC.

    Val loss decides ties and undefined AUCs (one class in val); the earliest epoch wins
    remaining ties. Training stops after ``options.patience`` epochs in a row without a
    better epoch, or at ``options.max_epochs``. Returns the chosen epoch (1-based) and one
    record per epoch run.
    """
    weight = torch.tensor(pos_weight)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    augment_rng = torch.Generator().manual_seed(options.seed + 1)
    history: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    best_state: dict[str, torch.Tensor] = {}
    best_epoch = 0
    for epoch in tqdm(range(1, options.max_epochs + 1), desc="epochs", unit="epoch"):
        model.train()
        total, seen = 0.0, 0
        for batch, labels in tqdm(train_loader, desc=f"epoch {epoch}", leave=False):
            batch = _to(augment(batch, augment_rng, options.flip, options.jpeg_quality), device)
            optimiser.zero_grad()
            loss = binary_cross_entropy_with_logits(
                model(batch), labels.to(device).float(), pos_weight=weight.to(device)
            )
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(labels)
            seen += len(labels)
        recalibrate_batchnorm(model, calibration_loader, device)
        val_loss, val_auc = _val_scores(
            predict_logits(model, val_loader, device), val_labels, weight
        )
        record = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "val_loss": val_loss,
            "val_auc": val_auc,
        }
        history.append(record)
        log.info("epoch %d: %s", epoch, record)
        if writer is not None:
            for key in ("train_loss", "val_loss", "val_auc"):
                writer.add_scalar(key, record[key], epoch)
        score = tuple(v if math.isfinite(v) else -math.inf for v in (val_auc, -val_loss))
        if best is None or score > best:
            best, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= options.patience:
            log.info("early stop after epoch %d: best epoch %d", epoch, best_epoch)
            break
    model.load_state_dict(best_state)
    return best_epoch, history


def train_model(
    name: str,
    pack_dirs: Sequence[str | os.PathLike[str]],
    splits_tsv: str | os.PathLike[str],
    options: TrainOptions,
    model_dir: str | os.PathLike[str],
    predictions_path: str | os.PathLike[str],
    tensorboard_dir: str | os.PathLike[str] | None = None,
    preprocess: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train model ``name`` on the packed inputs of a run; write checkpoint and predictions.

    ``pack_dirs``: the run's ``packs/{part}/{shard}`` folders holding the model's inputs
    (:func:`unrender.train.packs.open_packs`, made at ``options.image_size``); ``splits_tsv``:
    the run's ``splits.tsv``. Writes ``model_dir/model.safetensors`` + ``meta.json``, the val
    and test predictions to ``predictions_path`` and, if given, tensorboardX scalars (train
    loss, val loss, val AUC per epoch) to ``tensorboard_dir``. ``preprocess`` (how frames and
    modalities were made: the ``frames`` config and the modality backend) is stored in the meta
    for ``unrender predict``. Returns the meta.
    """
    inputs = MODEL_INPUTS.get(name)
    if inputs is None:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_INPUTS)}")
    splits = read_splits(splits_tsv)
    packs = open_packs(pack_dirs, inputs)
    items = [it for pack in packs for it in pack.items]
    unsplit = sorted({it.sample_id for it in items} - splits.keys())
    if unsplit:
        raise ValueError(
            f"{len(unsplit)} packed sample(s) are not in {splits_tsv} (e.g. {unsplit[:3]}); "
            "it is older than the packs: delete it and rerun snakemake"
        )
    positions = {
        sp: [
            (p, row)
            for p, pack in enumerate(packs)
            for row, it in enumerate(pack.items)
            if splits[it.sample_id] == sp
        ]
        for sp in SPLITS
    }
    datasets = {sp: PackedDataset(packs, positions[sp], options.image_size) for sp in SPLITS}
    by_split = {sp: [datasets[sp].item(i) for i in range(len(datasets[sp]))] for sp in SPLITS}
    log.info("%s: inputs %s, samples per split %s", name, inputs, split_counts(items, splits))
    n_fake = sum(it.label for it in by_split["train"])
    n_real = len(by_split["train"]) - n_fake
    if n_fake == 0 or n_real == 0:
        raise ValueError(
            f"the training split has {n_real} real and {n_fake} fake frames; it needs both "
            f"({splits_tsv}: check the manifest's labels and split column)"
        )
    if not by_split["val"]:
        raise ValueError(
            f"the val split of {splits_tsv} is empty, and the epoch is chosen on val; give "
            "some groups split=val in the manifest, or leave the column empty (train.split)"
        )
    device = resolve_device(options.device)
    reuse_freed_memory()  # each batch's tensors reuse freed blocks instead of new pages
    # BatchNorm cannot run in train mode on a last batch of a single item.
    single_last = len(datasets["train"]) % options.batch_size == 1
    # On a GPU the job's threads feed it rather than compute.
    loading = loader_options(device, workers=torch.get_num_threads())
    workers = loading.get("num_workers", 0)
    # The four loaders run one after another, each to its end, so they share one ring.
    ring = batch_ring(datasets["train"], options.batch_size, workers) if workers else None
    loaders = {
        "train": packed_loader(
            datasets["train"],
            options.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(options.seed),
            drop_last=single_last,
            ring=ring,
            **loading,
        ),
        # The training set in order and unaugmented, for the BatchNorm statistics.
        "train_eval": packed_loader(
            datasets["train"], options.batch_size, ring, drop_last=single_last, **loading
        ),
        **{
            sp: packed_loader(datasets[sp], options.batch_size, ring, **loading)
            for sp in ("val", "test")
        },
    }
    writer = None
    if tensorboard_dir is not None:
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(str(tensorboard_dir))
    try:
        with deterministic(options.seed):
            model = build_model(name, options.arch, options.pretrained)
            if "lighting" in inputs:
                _fit_lighting(model, datasets["train"])
            model.to(device)
            best_epoch, history = _fit(
                model,
                loaders["train"],
                loaders["train_eval"],
                loaders["val"],
                torch.tensor([it.label for it in by_split["val"]], dtype=torch.long),
                options,
                n_real / n_fake,
                device,
                writer,
            )
            # The test split is scored once, here, with the epoch chosen on val.
            probs = [
                torch.sigmoid(predict_logits(model, loaders[sp], device)) for sp in ("val", "test")
            ]
    finally:
        if writer is not None:
            writer.close()
    evaluated = by_split["val"] + by_split["test"]
    predictions.write(
        predictions_path,
        predictions.from_rows(
            [it.sample_id for it in evaluated],
            [it.k for it in evaluated],
            [splits[it.sample_id] for it in evaluated],
            [it.label for it in evaluated],
            torch.cat(probs).double().numpy(),
            [it.kind for it in evaluated],
        ),
    )
    meta = {
        "model": name,
        "inputs": list(inputs),
        "arch": options.arch,
        "options": asdict(options),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        # Stopped at max_epochs on its best epoch: the val AUC was still rising.
        "chose_last_epoch": best_epoch == len(history) == options.max_epochs,
        "history": history,
        "splits": split_counts(items, splits),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "preprocess": dict(preprocess or {}),
    }
    checkpoint.save(model_dir, model.cpu(), meta)
    return meta
