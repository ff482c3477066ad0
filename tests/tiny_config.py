"""The smallest synthetic run of the whole data graph, for the end-to-end tests.

14 samples (6 identities x 1 real video, 6 face swaps, 1 real and 1 fake still) of 32 px,
3 frames per video, at most 3 epochs of training; about 20 s on 2 cores up to the
modalities. Each split gets the two identities that face swaps require.
"""

from __future__ import annotations

from typing import Any


def tiny_synth_config(run: str, shard_size: int = 4) -> dict[str, Any]:
    """A config of the tiny synthetic run ``run`` with ``shard_size`` samples per shard."""
    return {
        "run": run,
        "seed": 0,
        "dataset": {"kind": "synth"},
        "synth": {
            "identities": 6,
            "videos_per_identity": 1,
            "fakes_per_real": 1,
            "images_per_class": 1,
            "size": 32,
            "seconds": 1,
            "fps": 8,
            "splits": [0.34, 0.33, 0.33],
        },
        "shard_size": shard_size,
        "frames": {"per_video": 3, "size": 32},
        # A small training budget: these runs check the machinery, not what models learn.
        "train": {"max_epochs": 3, "patience": 2},
    }
