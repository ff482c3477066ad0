"""A random-valued, deterministic TF1 checkpoint of IRN++'s inference graph, for the tests.

The oracle files (``tests/fixtures/irn/*.npz``) hold upstream's outputs on the checkpoint of a
given seed (their ``ckpt_seed``); this writes that checkpoint again, byte for byte, from:

- the variables, in creation order, of ``tests/fixtures/irn/variables.json`` (name, shape);
- one ``numpy.random.RandomState(seed)``, drawn variable by variable in that order, in
  float64 then cast to float32: ``*/weights`` (HWIO kernels) ~ N(0, sqrt(2 / (9 cin))) with
  cin = shape[2]; ``*/group_norm/scale`` ~ 1 + U(-0.1, 0.1); ``*/group_norm/bias`` and
  ``*/biases`` ~ U(-0.1, 0.1).

The files are TF's V2 checkpoint format (``PREFIX.index``, ``PREFIX.data-00000-of-00001``)
plus the ``checkpoint`` state file that makes the folder loadable by name. Writing needs
TensorFlow, so it runs as a script in its own process::

    python tests/irn_checkpoint.py --out DIR/model.ckpt --seed 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

VARIABLES = Path(__file__).resolve().parent / "fixtures" / "irn" / "variables.json"


def variable_values(seed: int) -> dict[str, np.ndarray]:
    """Checkpoint key -> float32 array of the test checkpoint ``seed``, in creation order."""
    rng = np.random.RandomState(seed)
    values: dict[str, np.ndarray] = {}
    for var in json.loads(VARIABLES.read_text())["variables"]:
        name, shape = var["name"], tuple(var["shape"])
        kind = name.rsplit("/", 1)[1]
        if kind == "weights":
            drawn = rng.normal(0.0, np.sqrt(2.0 / (9 * shape[2])), shape)
        elif kind == "scale":
            drawn = 1.0 + rng.uniform(-0.1, 0.1, shape)
        elif kind in ("bias", "biases"):
            drawn = rng.uniform(-0.1, 0.1, shape)
        else:
            raise ValueError(f"{VARIABLES}: no rule for variable {name}")
        values[name] = drawn.astype(np.float32)
    return values


def write_checkpoint(prefix: Path, seed: int) -> None:
    """Write the test checkpoint ``seed`` at ``prefix`` (and the folder's state file)."""
    import tensorflow as tf

    values = variable_values(seed)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=list(values),
        shape_and_slices=[""] * len(values),
        tensors=[tf.constant(v) for v in values.values()],
    )
    state = f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n'
    (prefix.parent / "checkpoint").write_text(state)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, metavar="PREFIX")
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    write_checkpoint(args.out, args.seed)
