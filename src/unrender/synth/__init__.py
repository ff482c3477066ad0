"""The embedded synthetic deepfake dataset: rendered faces with ground-truth intrinsics.

Real samples are renders of random identities under SH lighting with cast shadows; fakes
are face swaps whose inner face comes from another identity under another light.
"""

from unrender.color import linear_to_srgb, srgb_to_linear
from unrender.synth.dataset import (
    MANIFEST_COLUMNS,
    PlannedSample,
    SynthConfig,
    plan,
    write_dataset,
)
from unrender.synth.face import Identity
from unrender.synth.render import (
    FaceRender,
    Light,
    Pose,
    dominant_direction,
    random_lighting,
    render_face,
    sample_light,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "FaceRender",
    "Identity",
    "Light",
    "PlannedSample",
    "Pose",
    "SynthConfig",
    "dominant_direction",
    "linear_to_srgb",
    "plan",
    "random_lighting",
    "render_face",
    "sample_light",
    "srgb_to_linear",
    "write_dataset",
]
