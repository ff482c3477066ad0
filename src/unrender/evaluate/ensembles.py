"""The two ensembles built from the single-modality predictions (``ensemble_net`` is trained).

- ``ensemble_mean``: the mean of the five modality models' fake probabilities, per frame.
- ``ensemble_stacked``: a logistic regression on the logits of the five modality models and
  the training-free ``lighting_consistency`` detector (:data:`STACKED_INPUTS`), fit on the
  **val** frames only (class-balanced, like the training loss) and applied to every frame. Its
  coefficients are kept in a JSON file so :mod:`unrender.commands.predict` can apply it
  without scikit-learn.

RGB is not an input of either: the question is whether the intrinsic modalities, together,
beat RGB (``lighting_consistency`` reads the frame only to fit the lighting of the normals).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from unrender.evaluate.predictions import Predictions
from unrender.io import atomic_open
from unrender.modalities import MODALITIES
from unrender.train.inputs import DETECTOR_INPUTS

#: What the stacked ensemble combines.
STACKED_INPUTS: tuple[str, ...] = (*MODALITIES, *DETECTOR_INPUTS)

#: Probabilities are clipped to [EPS, 1 - EPS] before the logit.
EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _columns(probs: Mapping[str, np.ndarray], inputs: Sequence[str]) -> np.ndarray:
    """float (N, M): the probabilities (N,) of the ``inputs`` models side by side."""
    missing = [m for m in inputs if m not in probs]
    if missing:
        raise ValueError(f"the ensemble needs predictions of {', '.join(missing)}")
    return np.stack([probs[m] for m in inputs], axis=1)


def mean_probability(
    probs: Mapping[str, np.ndarray], inputs: Sequence[str] = MODALITIES
) -> np.ndarray:
    """float (N,): per-row mean of the ``inputs`` models' probabilities (model -> (N,))."""
    return _columns(probs, inputs).mean(axis=1)


def _probs(tables: Mapping[str, Predictions]) -> dict[str, np.ndarray]:
    return {m: t.prob for m, t in tables.items()}


def ensemble_mean(
    tables: Mapping[str, Predictions], inputs: Sequence[str] = MODALITIES
) -> Predictions:
    """The table of ``ensemble_mean``: rows of ``inputs[0]``, :func:`mean_probability`."""
    return tables[inputs[0]].with_prob(mean_probability(_probs(tables), inputs))


@dataclass(frozen=True)
class Stacker:
    """``p = sigmoid(intercept + sum_i coef[i] * logit(p_i))`` over the ``inputs`` models."""

    inputs: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def apply(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        """model -> float (N,) probabilities (at least the inputs) -> float (N,) stacked."""
        z = self.intercept + _logit(_columns(probs, self.inputs)) @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the stacker as JSON, atomically."""
        with atomic_open(path) as f:
            json.dump(asdict(self), f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Stacker:
        d = json.loads(Path(path).read_text())
        return cls(tuple(d["inputs"]), tuple(d["coef"]), float(d["intercept"]))


def fit_stacker(
    tables: Mapping[str, Predictions], inputs: Sequence[str] = STACKED_INPUTS
) -> Stacker:
    """Fit the stacker on the val rows of the ``inputs`` models (no test row is read)."""
    from sklearn.linear_model import LogisticRegression

    val = tables[inputs[0]].split == "val"
    labels = tables[inputs[0]].label[val]
    if len(np.unique(labels)) < 2:
        raise ValueError(
            f"the val split has {len(labels)} frames of one class only; the stacked ensemble "
            "needs real and fake val samples (enlarge train.split.val or the dataset)"
        )
    features = _logit(_columns(_probs(tables), inputs)[val])
    fit = LogisticRegression(class_weight="balanced", max_iter=1000).fit(features, labels)
    return Stacker(tuple(inputs), tuple(float(c) for c in fit.coef_[0]), float(fit.intercept_[0]))


def ensemble_stacked(tables: Mapping[str, Predictions], stacker: Stacker) -> Predictions:
    """The stacker applied to every row (rows of ``stacker.inputs[0]``)."""
    return tables[stacker.inputs[0]].with_prob(stacker.apply(_probs(tables)))


def write_rescored(
    tables: Mapping[str, Predictions],
    stacker_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> None:
    """Write ``{model}.tsv`` of the scored models' ``tables`` (trained and training-free, on
    frames other than the run's own: a cross target, a perturbed test split) plus the two
    ensembles over them, ``ensemble_mean`` and ``ensemble_stacked`` with the stacker the run
    fit on its own val split (``stacker_path``); nothing is fit here."""
    from unrender.evaluate import predictions

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ensembles = {
        "ensemble_mean": ensemble_mean(tables),
        "ensemble_stacked": ensemble_stacked(tables, Stacker.load(stacker_path)),
    }
    for name, table in {**tables, **ensembles}.items():
        predictions.write(out / f"{name}.tsv", table)
