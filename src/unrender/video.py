"""Frame extraction: N evenly spaced frames of a video, by seeking.

Index formula: for a video of ``n`` frames and ``k`` wanted frames, frame ``i`` (0-based,
``i < k``) is ``floor((i + 0.5) * n / k)``: the centre of the i-th of k equal segments.
"""

from __future__ import annotations


def even_frame_indices(n_frames: int, k: int) -> list[int]:
    """The ``k`` evenly spaced frame indices of a video of ``n_frames`` frames (n >= k >= 1)."""
    if k < 1 or n_frames < k:
        raise ValueError(f"need 1 <= k <= n_frames, got k={k}, n_frames={n_frames}")
    return [int((2 * i + 1) * n_frames // (2 * k)) for i in range(k)]
