#!/usr/bin/env python3
"""Run upstream InverseRenderNet++ (TF1) over one shard of frames; write unrender's modalities.

Runs inside the ``irn-tf1`` container (Python 3.6 + TF 1.12, or NVIDIA's TF 1.15), where
upstream (github.com/YeeU/InverseRenderNet_v2 at 69922fa) is cloned in ``$IRN_UPSTREAM``
(default ``/opt/InverseRenderNet_v2``). The network, lighting estimate and renders are
upstream's own functions (``model.SfMNet.SfMNet``, ``SfMNet.comp_light``,
``lambSH_layer.lambSH_layer``, ``utils.render_sphere_nm``), wired the way upstream
``test.py``'s ``irn_func`` wires them; this file only feeds frames and writes results.

Input: ``--frames DIR`` holding ``{sample_id}/{k}.png`` (``frames/{shard}`` of a run).
Output: ``{out}/{modality}/{shard}/{sample_id}/{k}.png`` for albedo, normal, shading,
shadow and lighting, plus ``{k}.npy`` for normal and lighting -- the layout and encodings
of ``unrender.modalities.files``, with the maps at the frame's size as the ``irn`` backend
gives them (see ``to_modalities``).

This file must stay importable by Python 3.6 (the paper-parity image) and by unrender's
tests (Python 3.11+) without TensorFlow: TensorFlow and upstream are imported only in
``main``. ``--tf2-compat`` runs unmodified upstream code on TensorFlow 2 (``tf.compat.v1``
plus ``tf_slim`` for ``tf.contrib.layers``), for checks and benchmarks outside the container.
"""

import argparse
import os
import sys
import tempfile
import types

import cv2
import numpy as np

MODALITIES = ("albedo", "normal", "shading", "shadow", "lighting")
NPY_MODALITIES = ("normal", "lighting")
MODES = ("demo", "iiw", "diode")
NET_SHORT_SIDE = 200
GAMMA = 2.2


def srgb_to_linear(x: "np.ndarray") -> "np.ndarray":
    """sRGB decoding as upstream ``srgb_to_rgb``: float32 in [0, 1] -> float32 in [0, 1]."""
    linear = np.empty_like(x)
    low = x <= 0.04045
    linear[low] = x[low] / 12.92
    linear[~low] = np.power((x[~low] + 0.055) / 1.055, 2.4)
    return linear


def network_size(height: int, width: int, mode: str) -> "tuple":
    """(h, w) the network sees: 200 x 200 for iiw, else upstream ``rescale_img`` sizes."""
    if mode == "iiw":
        return NET_SHORT_SIDE, NET_SHORT_SIDE
    if height > width:
        return int(np.int32(height / (width / NET_SHORT_SIDE))), NET_SHORT_SIDE
    return NET_SHORT_SIDE, int(np.int32(width / (height / NET_SHORT_SIDE)))


def preprocess(image: "np.ndarray", mode: str) -> "tuple":
    """Network input of one uint8 (H, W, 3) RGB frame, with no user mask.

    Returns ``(input_net float32 (h, w, 3) in [-1, 1], mask float32 (h, w) of ones)``, the
    same values as ``unrender.irn.inference.prepare`` (pinned by unrender's tests).
    """
    h, w = network_size(image.shape[0], image.shape[1], mode)
    if mode == "diode":
        # DIODE mode resizes the float image, not the uint8 one, and skips sRGB decoding.
        x = cv2.resize(np.float32(image) / 255.0 * 2.0 - 1.0, (w, h))
    else:
        x = np.float32(cv2.resize(image, (w, h))) / 255.0
        if mode == "demo":
            x = srgb_to_linear(x)
        x = x * 2.0 - 1.0
    return x.astype(np.float32), np.ones((h, w), np.float32)


def unit_normals(normal: "np.ndarray") -> "np.ndarray":
    """Rescale non-zero normals float (..., 3) to unit length; zero normals stay zero."""
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    return np.where(length > 0, normal / np.maximum(length, 1e-12), 0.0).astype(np.float32)


def to_modalities(net: "dict", height: int, width: int) -> "dict":
    """Map one frame's network-size outputs onto unrender's modality contract.

    net: albedo (h, w, 3) in [0, 1], normal (h, w, 3), shading (h, w, 3), shadow (h, w),
    lighting (9, 3), lighting_sphere (200, 200, 3). The maps are resized bilinearly to
    (height, width) as upstream's post-processing does (no albedo min-max); normals are
    rescaled to unit length afterwards. Returns float32 arrays.
    """
    size = (width, height)
    return {
        "albedo": np.clip(cv2.resize(net["albedo"], size), 0.0, 1.0),
        "normal": unit_normals(cv2.resize(net["normal"], size)),
        "shading": cv2.resize(net["shading"], size),
        "shadow": np.clip(cv2.resize(net["shadow"], size), 0.0, 1.0),
        "lighting": np.float32(net["lighting"]),
        "lighting_sphere": np.float32(net["lighting_sphere"]),
    }


def _to_u8(x: "np.ndarray") -> "np.ndarray":
    # np.where rather than nan_to_num(nan=...), which numpy < 1.17 lacks.
    x = np.where(np.isnan(x), 0.0, x)
    return np.round(255.0 * np.clip(x, 0.0, 1.0)).astype(np.uint8)


def encode_png(modality: str, maps: "dict") -> "np.ndarray":
    """uint8 picture of one frame's ``modality``, as ``unrender.modalities.files.encode_png``."""
    if modality == "normal":
        return _to_u8((maps["normal"] + 1.0) / 2.0)
    if modality == "lighting":
        return _to_u8(maps["lighting_sphere"])
    return _to_u8(maps[modality])


def _atomic_write(path: str, write) -> None:
    """Call ``write(tmp_path)`` on a temporary sibling of ``path``, then rename it into place."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_frame(out: str, shard: str, sample_id: str, k: int, maps: "dict") -> None:
    """Write the five modalities of frame ``k`` of ``sample_id`` (PNG, plus .npy where kept)."""
    for modality in MODALITIES:
        png = os.path.join(out, modality, shard, sample_id, f"{k}.png")
        picture = encode_png(modality, maps)
        bgr = picture[..., ::-1] if picture.ndim == 3 else picture
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if not ok:
            raise OSError("could not encode " + png)
        _atomic_write(png, lambda tmp, buf=buf: buf.tofile(tmp))
        if modality in NPY_MODALITIES:
            array = np.float32(maps[modality])
            _atomic_write(png[:-4] + ".npy", lambda tmp, a=array: np.save(tmp, a))


def list_frames(frames_dir: str) -> "list":
    """``(sample_id, k, path)`` of every ``{sample_id}/{k}.png`` under ``frames_dir``, sorted."""
    found = []
    for sample_id in sorted(os.listdir(frames_dir)):
        folder = os.path.join(frames_dir, sample_id)
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            stem, ext = os.path.splitext(name)
            if ext == ".png" and stem.isdigit():
                found.append((sample_id, int(stem), os.path.join(folder, name)))
    return sorted(found)


def read_rgb(path: str) -> "np.ndarray":
    """uint8 (H, W, 3) RGB of an image file; ValueError naming the file if unreadable."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("cannot decode frame " + path)
    return np.ascontiguousarray(bgr[..., ::-1])


def use_tf2_compat() -> None:
    """Make ``import tensorflow`` give ``tf.compat.v1`` with ``tf.contrib.layers`` = tf_slim.

    Lets upstream's TF1 code run unmodified on TensorFlow 2 (needs the ``tf-slim`` package).
    """
    import tensorflow
    import tf_slim

    v1 = tensorflow.compat.v1
    v1.disable_v2_behavior()
    contrib = types.ModuleType("tensorflow.contrib")
    # tf_slim's top level holds what tf.contrib.layers did (conv2d, l2_regularizer).
    contrib.layers = tf_slim
    v1.contrib = contrib
    sys.modules["tensorflow"] = v1
    sys.modules["tensorflow.contrib"] = contrib
    sys.modules["tensorflow.contrib.layers"] = tf_slim


class UpstreamGraph:
    """Upstream's inference graph for one network size, restored from a TF1 checkpoint.

    ``threads`` caps TensorFlow's thread pools (0: all cores).
    ``run(input_net (B, h, w, 3), mask (B, h, w))`` returns float32 arrays: albedo
    (B, h, w, 3) = (albedo/2 + 0.5) * mask, normal (B, h, w, 3), shading (B, h, w, 3),
    shadow (B, h, w) = shadow/2 + 0.5, lighting (B, 9, 3), lighting_sphere (B, 200, 200, 3).
    """

    def __init__(
        self, upstream: str, checkpoint: str, height: int, width: int, threads: int = 0
    ) -> None:
        if upstream not in sys.path:
            sys.path.insert(0, upstream)
        import tensorflow as tf
        from model import SfMNet, lambSH_layer
        from utils.render_sphere_nm import render_sphere_nm

        self.graph = tf.Graph()
        cwd = os.getcwd()
        # comp_light reads its PCA basis from ./model/hdr_illu_pca.
        os.chdir(upstream)
        try:
            with self.graph.as_default():
                self.images = tf.placeholder(tf.float32, (None, height, width, 3))
                self.masks = tf.placeholder(tf.float32, (None, height, width, 1))
                albedo, shadow, normal = SfMNet.SfMNet(
                    inputs=self.images,
                    is_training=tf.constant(False),
                    height=height,
                    width=width,
                    masks=self.masks,
                    n_layers=30,
                    n_pools=4,
                    depth_base=32,
                )
                lighting, _ = SfMNet.comp_light(
                    self.images, albedo, normal, shadow, tf.constant(GAMMA), self.masks
                )
                sphere = tf.constant(render_sphere_nm(100, 1), dtype=tf.float32)
                sphere = tf.tile(sphere, (tf.shape(lighting)[0], 1, 1, 1))
                sphere_render, _ = lambSH_layer.lambSH_layer(
                    tf.ones_like(sphere), sphere, lighting, tf.ones_like(sphere), 1.0
                )
                shading, _ = lambSH_layer.lambSH_layer(
                    tf.ones_like(albedo), normal, lighting, tf.ones_like(albedo), 1.0
                )
                self.outputs = {
                    "albedo": (albedo / 2.0 + 0.5) * self.masks,
                    "normal": normal,
                    "shading": shading,
                    "shadow": shadow[..., 0] / 2.0 + 0.5,
                    "lighting": lighting,
                    "lighting_sphere": sphere_render,
                }
                # threads 0: TensorFlow's default, all cores.
                config = tf.ConfigProto(
                    intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
                )
                self.session = tf.Session(graph=self.graph, config=config)
                tf.train.Saver().restore(self.session, checkpoint)
        finally:
            os.chdir(cwd)

    def run(self, input_net: "np.ndarray", mask: "np.ndarray") -> "dict":
        feed = {self.images: input_net, self.masks: mask[..., None]}
        return self.session.run(self.outputs, feed_dict=feed)


def checkpoint_prefix(path: str) -> str:
    """The checkpoint prefix of a folder holding a ``checkpoint`` state file, or ``path``."""
    if os.path.isdir(path):
        import tensorflow as tf

        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise FileNotFoundError("no TF checkpoint state file in folder " + path)
        return prefix
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(f"TF checkpoint not found: {path}.index")
    return path


def run_shard(args: "argparse.Namespace") -> int:
    """Decompose every frame of the shard; return the number of frames written.

    Frames are batched by network size (one graph per size, built on first use); at most
    ``batch_size`` frames per size are held in memory.
    """
    frames = list_frames(args.frames)
    for modality in MODALITIES:
        os.makedirs(os.path.join(args.out, modality, args.shard), exist_ok=True)
    if not frames:
        return 0
    if args.tf2_compat:
        use_tf2_compat()
    prefix = checkpoint_prefix(args.checkpoint)
    graphs = {}
    pending = {}

    def flush(size: "tuple") -> None:
        batch = pending.pop(size)
        if size not in graphs:
            graphs[size] = UpstreamGraph(args.upstream, prefix, size[0], size[1], args.threads)
        net = graphs[size].run(np.stack([b[3] for b in batch]), np.stack([b[4] for b in batch]))
        for i, (sample_id, k, (height, width), _, _) in enumerate(batch):
            maps = to_modalities({key: value[i] for key, value in net.items()}, height, width)
            write_frame(args.out, args.shard, sample_id, k, maps)

    for sample_id, k, path in frames:
        image = read_rgb(path)
        net_input, mask = preprocess(image, args.mode)
        size = net_input.shape[:2]
        pending.setdefault(size, []).append((sample_id, k, image.shape[:2], net_input, mask))
        if len(pending[size]) == args.batch_size:
            flush(size)
    for size in sorted(pending):
        flush(size)
    return len(frames)


def main(argv: "list" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, help="folder of {sample_id}/{k}.png")
    parser.add_argument("--out", required=True, help="modalities root folder")
    parser.add_argument("--shard", required=True, help="shard id, e.g. s0000")
    parser.add_argument(
        "--checkpoint", required=True, help="TF1 checkpoint prefix, or folder with a state file"
    )
    parser.add_argument("--mode", choices=MODES, default="demo")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--threads", type=int, default=0, help="TF thread pool sizes (0: all cores)"
    )
    parser.add_argument(
        "--upstream", default=os.environ.get("IRN_UPSTREAM", "/opt/InverseRenderNet_v2")
    )
    parser.add_argument(
        "--tf2-compat", action="store_true", help="run upstream's TF1 code on TensorFlow 2"
    )
    args = parser.parse_args(argv)
    n = run_shard(args)
    print(f"irn-tf1: wrote the modalities of {n} frames of shard {args.shard}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
