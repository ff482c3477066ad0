"""InverseRenderNet++ inference: upstream's whole test path around the network.

Follows upstream ``test.py`` (github.com/YeeU/InverseRenderNet_v2, 69922fa) in three modes:

- ``demo`` (default, ``--mode demo_im``; the model the study uses): resize so the short side
  is 200 (cv2 bilinear on uint8), sRGB -> linear, map to [-1, 1], multiply by the mask
  (``cv2.resize`` of the uint8 mask, keep pixels still exactly 255). Post-processing resizes
  the maps back to the original size and min-max normalises the albedo.
- ``iiw``: cv2 resize to 200 x 200, no sRGB decoding, no mask. Post-processing resizes back,
  multiplies shading by shadow and gamma-encodes the albedo (``** (1 / 2.2)``).
- ``diode``: no sRGB decoding; the [-1, 1] float image is resized (short side 200); the
  mask is resized as a float and keeps every non-zero pixel, and does not mask the input.
  Post-processing keeps the network size.

Around the network (all modes): tanh heads clipped to +-0.9999 and masked; normals
``(a, b, 1) / sqrt(a^2 + b^2 + 1)``; per-channel least-squares SH lighting of the
*gamma-2.2-decoded* input (a second decoding in demo mode, as upstream does) against
``basis(n) * albedo * shadow * mask``, through upstream's clamped pseudo-inverse; projection
onto the illumination PCA subspace; shading and the lighting sphere from :mod:`unrender.sh`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch

from unrender import sh
from unrender.color import srgb_to_linear
from unrender.irn.model import InverseRenderNet

MODES: tuple[str, ...] = ("demo", "iiw", "diode")

#: Upstream resizes images so that their short side is this many pixels.
NET_SHORT_SIDE = 200

#: Gamma of the lighting estimate (upstream test.py line 73).
GAMMA = 2.2

#: Singular values below this fraction of the largest are raised to it (upstream ``pinv``).
PINV_RELTOL = 1e-6

#: Heads are clipped to this magnitude before mapping [-1, 1] -> [0, 1].
HEAD_CLIP = 0.9999

WEIGHTS_HELP = (
    "Upstream publishes its TF1 checkpoints (model_ckpt, iiw_model_ckpt, diode_model_ckpt) "
    "on Google Drive, linked from the README of github.com/YeeU/InverseRenderNet_v2. "
    "Download and untar them, then convert one with "
    "`unrender irn convert --tf-checkpoint model_ckpt --out irn.safetensors` "
    "(needs TensorFlow: pip install 'unrender[tf]') and point irn.weights at the .safetensors file."
)


#: ``irn.precision``: the dtype the network's convolutions run in. float32 is the default
#: and the parity-tested path (tests/test_irn.py); bfloat16 and float16 are opt-in autocast
#: (``torch.autocast``: weights stay float32, GroupNorm runs in float32 where autocast says
#: so, the logits come back as float32 and everything after them -- heads, the float64
#: lighting fit, renders -- is unchanged). Their error against the float32 oracle is measured
#: in tests/test_irn_precision.py.
PRECISIONS: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def load(weights_path: str | Path, device: str | torch.device | None = None) -> InverseRenderNet:
    """The network with converted weights (a safetensors file), in eval mode on ``device``.

    Raises FileNotFoundError / ValueError naming the file and how to get weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"IRN++ weights not found: {path}. {WEIGHTS_HELP}")
    try:
        state = load_file(path)
    except (SafetensorError, OSError) as e:
        raise ValueError(f"cannot read IRN++ weights {path} ({e}). {WEIGHTS_HELP}") from e
    model = InverseRenderNet()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"{path} does not hold InverseRenderNet++ weights: {str(e)[:500]}. {WEIGHTS_HELP}"
        ) from e
    # Channels-last convolutions are about 1.7x faster on CPU (oneDNN) and suit cuDNN too.
    return model.eval().to(device or "cpu", memory_format=torch.channels_last)


@dataclass(frozen=True)
class Prepared:
    """One image as the network gets it (h, w = network size).

    input_resized: uint8 (h, w, 3), the image resized by cv2;
    input_net: float32 (h, w, 3) in [-1, 1], the network input;
    mask: float32 (h, w), 1 = keep, 0 = masked.
    """

    input_resized: np.ndarray
    input_net: np.ndarray
    mask: np.ndarray


def network_size(height: int, width: int, mode: str = "demo") -> tuple[int, int]:
    """(h, w) of the network input for an image of ``height`` x ``width``.

    200 x 200 in iiw mode; otherwise the short side becomes 200 and the long side is
    ``int32(long / (short / 200))`` (truncated), e.g. 300 x 400 -> 200 x 266.
    """
    _check_mode(mode)
    if mode == "iiw":
        return NET_SHORT_SIDE, NET_SHORT_SIDE
    if height > width:
        return int(np.int32(height / (width / NET_SHORT_SIDE))), NET_SHORT_SIDE
    return NET_SHORT_SIDE, int(np.int32(width / (height / NET_SHORT_SIDE)))


def prepare(image: np.ndarray, mask: np.ndarray | None = None, mode: str = "demo") -> Prepared:
    """Resize and normalise one image the way upstream ``test.py`` does in ``mode``.

    image: uint8 (H, W, 3) RGB, sRGB-encoded. mask: uint8 (H, W), 255 = keep (default all
    kept); iiw mode takes no mask.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"IRN++ wants a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}"
        )
    h, w = network_size(*image.shape[:2], mode)
    resized = cv2.resize(image, (w, h))
    if mask is not None and (mask.dtype != np.uint8 or mask.shape != image.shape[:2]):
        raise ValueError(f"mask must be uint8 {image.shape[:2]}, got {mask.dtype} {mask.shape}")
    if mode == "iiw" and mask is not None:
        raise ValueError("IRN++ iiw mode takes no mask (upstream runs it unmasked)")
    if mode == "diode":
        x = cv2.resize(np.float32(image) / 255.0 * 2.0 - 1.0, (w, h))
        keep = np.ones((h, w), np.float32)
        if mask is not None:
            # Upstream resizes its 0/1 DIODE mask as a float and keeps any non-zero pixel.
            keep = np.float32(cv2.resize(np.float32(mask == 255), (w, h)) != 0)
        return Prepared(resized, x, keep)
    x = np.float32(resized) / 255.0
    if mode == "demo":
        x = srgb_to_linear(x)
    x = x * 2.0 - 1.0
    keep = np.ones((h, w), np.float32)
    if mask is not None:
        # Upstream passes INTER_NEAREST as cv2.resize's `dst` argument, so the mask is
        # resized bilinearly and only pixels that stay exactly 255 are kept.
        keep = np.float32(cv2.resize(mask, (w, h)) == 255)
    return Prepared(resized, (x * keep[..., None]).astype(np.float32), keep)


def pinv_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``pinv(a) @ b`` with upstream's pseudo-inverse, batched over leading dimensions.

    a: (..., M, N), b: (..., M, K) -> (..., N, K); use float64. Upstream takes the thin SVD
    ``a = U S V^T`` (min(M, N) singular values), raises singular values below
    ``1e-6 * s_max`` to that floor (it does not zero them) and returns
    ``V diag(1 / s_floored) U^T b``. The same product comes here from the small Gram matrix
    of the short side, which is far faster than an SVD of the tall (h * w, 9) lighting
    systems (their condition is ~1e2, so squaring it costs nothing in float64):
    ``a^T a = V S^2 V^T`` and ``U^T = S^-1 V^T a^T`` when M >= N; ``a a^T = U S^2 U^T`` and
    ``V = a^T U S^-1`` otherwise.
    """
    tall = a.shape[-2] >= a.shape[-1]
    eigenvalues, vectors = torch.linalg.eigh(a.mT @ a if tall else a @ a.mT)
    s = eigenvalues.clamp_min(0).sqrt()
    floor = s.amax(-1, keepdim=True) * PINV_RELTOL
    scale = 1 / (torch.where(s > floor, s, floor) * s)
    if tall:
        return vectors @ (scale[..., None] * (vectors.mT @ (a.mT @ b)))
    return a.mT @ (vectors @ (scale[..., None] * (vectors.mT @ b)))


@cache
def pca_pinv() -> np.ndarray:
    """float64 (27, 18): upstream's pseudo-inverse of the illumination PCA vectors (18, 27)."""
    vectors = torch.from_numpy(sh.illumination_pca()[1])
    return pinv_solve(vectors, torch.eye(18, dtype=torch.float64)).numpy()


def fit_lighting(
    input_net: torch.Tensor,
    albedo_raw: torch.Tensor,
    shadow_raw: torch.Tensor,
    normal: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Upstream's least-squares SH lighting (``illuDecomp``), per image and channel.

    input_net, albedo_raw, normal: float32 (B, h, w, 3), the first two in [-1, 1];
    shadow_raw, mask: float32 (B, h, w, 1). Solves ``(basis(n) * A_c * S * M) L_c = I_c^2.2 M``
    over all h * w pixels (masked rows are zero). Returns float64 (B, 27), row-major
    ``L27[3k + c]``.
    """
    b = input_net.shape[0]
    target = (input_net / 2 + 0.5) ** GAMMA * mask
    scale = (albedo_raw / 2 + 0.5) * (shadow_raw / 2 + 0.5) * mask
    design = sh.sh_basis(normal)[..., None, :] * scale[..., None]  # (B, h, w, 3, 9)
    design = design.reshape(b, -1, 3, 9).permute(0, 2, 1, 3).double()  # (B, 3, N, 9)
    target = target.reshape(b, -1, 3).permute(0, 2, 1)[..., None].double()  # (B, 3, N, 1)
    coeffs = pinv_solve(design, target)[..., 0]  # (B, 3, 9)
    return coeffs.transpose(1, 2).reshape(b, 27)


def infer(
    model: InverseRenderNet,
    input_net: torch.Tensor,
    mask: torch.Tensor,
    precision: str = "float32",
) -> dict[str, torch.Tensor]:
    """Network, heads, lighting and renders for a batch, at the network size.

    input_net: float32 (B, h, w, 3) in [-1, 1]; mask: float32 (B, h, w), on the model's
    device; precision: a key of :data:`PRECISIONS`, the network's compute dtype. Returns
    float32 tensors (B first):

    - ``albedo`` (h, w, 3) = (albedo_raw / 2 + 0.5) * mask, in [5e-5, 0.99995], 0 masked;
    - ``normal`` (h, w, 3) unit with z > 0, zeros where masked;
    - ``shadow`` (h, w) = shadow_raw / 2 + 0.5 (0.5 where masked);
    - ``shading`` (h, w, 3) = clip(SH irradiance, 0, 1) + 1e-4 (1e-4 where masked);
    - ``inputs_rescaled`` (h, w, 3) = (input_net / 2 + 0.5) * mask;
    - ``lighting`` (9, 3) PCA-projected SH lighting; ``lighting_ls`` (27,) least-squares
      lighting; ``lighting_pca`` (18,) PCA coefficients;
    - ``lighting_render`` (200, 200, 3) shading of a sphere, NaN outside the disk;
    - ``logits_albedo`` (h, w, 3), ``logits_normal`` (h, w, 2), ``logits_shadow`` (h, w, 1).
    """
    m = mask[..., None]
    dtype = _precision(precision)
    # The NHWC batch permuted to NCHW is channels-last in memory, as the weights are (load).
    with torch.autocast(input_net.device.type, dtype=dtype, enabled=dtype != torch.float32):
        raw = model(input_net.permute(0, 3, 1, 2))
    # .float() of a float32 tensor is the tensor itself: the float32 path is unchanged.
    logits = [t.float().permute(0, 2, 3, 1) for t in raw]
    logits_albedo, logits_normal, logits_shadow = logits
    albedo_raw = (torch.tanh(logits_albedo) * m).clamp(-HEAD_CLIP, HEAD_CLIP)
    shadow_raw = (torch.tanh(logits_shadow) * m).clamp(-HEAD_CLIP, HEAD_CLIP)
    norm = torch.sqrt((logits_normal**2).sum(-1, keepdim=True) + 1.0)
    normal = torch.cat([logits_normal / norm, 1.0 / norm], -1) * m

    lighting_ls = fit_lighting(input_net, albedo_raw, shadow_raw, normal, m)
    mean, vectors = (torch.from_numpy(a).to(lighting_ls.device) for a in sh.illumination_pca())
    lighting_pca = (lighting_ls - mean) @ torch.from_numpy(pca_pinv()).to(lighting_ls.device)
    lighting = (lighting_pca @ vectors + mean).reshape(-1, 9, 3).float()

    sphere = torch.from_numpy(sh.sphere_normals()).to(lighting.device)
    return {
        "albedo": (albedo_raw / 2 + 0.5) * m,
        "normal": normal,
        "shadow": (shadow_raw / 2 + 0.5)[..., 0],
        "shading": sh.shading(normal, lighting),
        "inputs_rescaled": (input_net / 2 + 0.5) * m,
        "lighting": lighting,
        "lighting_ls": lighting_ls.float(),
        "lighting_pca": lighting_pca.float(),
        "lighting_render": sh.shading(sphere.expand(len(lighting), *sphere.shape), lighting),
        "logits_albedo": logits_albedo,
        "logits_normal": logits_normal,
        "logits_shadow": logits_shadow,
    }


def decompose_batch(
    model: InverseRenderNet, images: np.ndarray, mode: str = "demo", precision: str = "float32"
) -> dict[str, torch.Tensor]:
    """:func:`infer` on a batch of same-sized images, prepared as in ``mode`` (no mask), the
    network in ``precision``.

    images: uint8 (B, H, W, 3) RGB. Returns :func:`infer`'s tensors at the network size
    (:func:`network_size`), on the model's device.
    """
    prepared = [prepare(image, None, mode) for image in images]
    device = next(model.parameters()).device
    x = torch.from_numpy(np.stack([p.input_net for p in prepared])).to(device)
    m = torch.from_numpy(np.stack([p.mask for p in prepared])).to(device)
    return infer(model, x, m, precision)


def _to_png(x: np.ndarray) -> np.ndarray:
    """uint8 as upstream saves maps: ``np.uint8(x * 255)`` (truncates), NaN -> 0."""
    return np.uint8(np.nan_to_num(x, nan=0.0) * 255.0)


def postprocess(
    net: dict[str, np.ndarray], original_size: tuple[int, int], mode: str
) -> dict[str, np.ndarray]:
    """Upstream's post-processing of one image's network-size maps, float and saved uint8.

    net: ``albedo``, ``shading`` (h, w, 3), ``shadow`` (h, w), ``normal`` (h, w, 3),
    ``lighting_render`` (200, 200, 3) float32; original_size: (H0, W0). Returns float32
    ``post_albedo, post_shading, post_shadow, post_normal`` (at (H0, W0), or (h, w) in diode
    mode; normal mapped to [0, 1]) and their uint8 ``png_*``, plus ``png_lighting``.
    """
    if mode == "diode":
        albedo, shading, shadow, normal = (
            net[k] for k in ("albedo", "shading", "shadow", "normal")
        )
    else:
        size = (original_size[1], original_size[0])
        albedo, shading, shadow, normal = (
            cv2.resize(net[k], size) for k in ("albedo", "shading", "shadow", "normal")
        )
    if mode == "demo":
        albedo = (albedo - albedo.min()) / (albedo.max() - albedo.min())
    elif mode == "iiw":
        shading = shading * shadow[..., None]
        albedo = albedo ** (1 / 2.2)
    post = {
        "post_albedo": albedo,
        "post_shading": shading,
        "post_shadow": shadow,
        "post_normal": (normal + 1.0) / 2.0,
    }
    pngs = {"png_" + k[len("post_") :]: _to_png(v) for k, v in post.items()}
    return {**post, **pngs, "png_lighting": _to_png(net["lighting_render"])}


def decompose(
    model: InverseRenderNet,
    image: np.ndarray,
    mask: np.ndarray | None = None,
    mode: str = "demo",
    precision: str = "float32",
) -> dict[str, np.ndarray]:
    """Run upstream's whole test path on one image; keys, shapes, dtypes as the oracle npz
    (the network in ``precision``, :data:`PRECISIONS`).

    image: uint8 (H0, W0, 3) RGB; mask: uint8 (H0, W0), 255 = keep. With h, w the network
    size, returns numpy arrays:

    - ``input_resized`` uint8 (h, w, 3); ``input_net`` float32 (h, w, 3); ``mask`` (h, w);
    - the maps of :func:`infer` without the batch axis (albedo, normal, shadow, shading,
      inputs_rescaled, lighting_render, logits_*), float32;
    - ``lighting`` (1, 9, 3), ``lighting_ls`` (1, 27), ``lighting_pca`` (1, 18), float32;
      ``pca_pinv`` float32 (27, 18);
    - ``post_*`` float32 and ``png_*`` uint8 of :func:`postprocess`.
    """
    prepared = prepare(image, mask, mode)
    device = next(model.parameters()).device
    with torch.inference_mode():
        net = infer(
            model,
            torch.from_numpy(prepared.input_net[None]).to(device),
            torch.from_numpy(prepared.mask[None]).to(device),
            precision,
        )
    batched = ("lighting", "lighting_ls", "lighting_pca")
    arrays = {k: v.cpu().numpy() if k in batched else v[0].cpu().numpy() for k, v in net.items()}
    return {
        "input_resized": prepared.input_resized,
        "input_net": prepared.input_net,
        "mask": prepared.mask,
        **arrays,
        "pca_pinv": pca_pinv().astype(np.float32),
        **postprocess(arrays, image.shape[:2], mode),
    }


def _precision(precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown IRN++ precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    return PRECISIONS[precision]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown IRN++ mode {mode!r}; choose one of {', '.join(MODES)}")
