"""Training and inference throughput of each model (images/s, CPU), against plain torchvision.

For every model of ``MODEL_INPUTS`` it times optimiser steps (forward, backward, AdamW, with
the flip augmentation) and eval-mode forwards on random inputs of the documented dtypes and
shapes, so only compute is measured (reading PNGs is cheap beside it). The baseline, in the
same run, is a bare ``torchvision.models.resnet18(num_classes=1)`` on float input: the ratio
``rgb / baseline`` is what our wrapper (uint8 -> normalised float, the fusion head) costs.

    python bench/train_throughput.py [--size 64] [--batch 32] [--threads 2] [--steps 9]

Then it times the rgb training step with ``torch.use_deterministic_algorithms(True)``, as
training runs it, against the same step without (interleaved likewise). Prints Markdown;
the figures quoted in bench/train_throughput.md come from it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from unrender.train.inputs import LIGHTING_DIM
from unrender.train.loop import augment
from unrender.train.models import MODEL_INPUTS, build_model


def _batch(inputs: tuple[str, ...], batch: int, size: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        name: torch.randn(batch, LIGHTING_DIM, generator=g)
        if name == "lighting"
        else torch.randint(0, 256, (batch, 3, size, size), generator=g, dtype=torch.uint8)
        for name in inputs
    }


def _rates(
    step: Callable[[], None], baseline: Callable[[], None], batch: int, steps: int
) -> tuple[float, float]:
    """Images per second of ``step`` and of ``baseline`` (one batch each), interleaved.

    The two alternate step by step after one warm-up each, and each rate is batch / median
    step time: on a shared machine a burst of load then hits both alike and cannot decide
    the ratio.
    """
    step()
    baseline()
    times: dict[Callable[[], None], list[float]] = {step: [], baseline: []}
    for _ in range(steps):
        for fn in times:
            start = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - start)
    return batch / statistics.median(times[step]), batch / statistics.median(times[baseline])


def _train_step(model: torch.nn.Module, forward: Callable[[], torch.Tensor]) -> Callable[[], None]:
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        optimiser.zero_grad()
        logits = forward()
        torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.ones_like(logits)
        ).backward()
        optimiser.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input size in px")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=9, help="timed batches per figure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
        f"{args.size} px, load average {os.getloadavg()[0]:.1f}\n"
    )
    import torchvision

    baseline = torchvision.models.resnet18(num_classes=1)
    x = torch.randn(args.batch, 3, args.size, args.size)
    baseline_train = _train_step(baseline, lambda: baseline(x)[:, 0])

    @torch.no_grad()
    def baseline_eval() -> None:
        baseline.eval()
        baseline(x)
        baseline.train()

    print("| model | train img/s | baseline train | ratio | eval img/s | baseline eval | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rng = torch.Generator().manual_seed(1)
    for name, inputs in MODEL_INPUTS.items():
        model = build_model(name)
        batch = _batch(inputs, args.batch, args.size)
        train, base_train = _rates(
            _train_step(model, lambda m=model, b=batch: m(augment(b, rng, True, None))),
            baseline_train,
            args.batch,
            args.steps,
        )

        @torch.no_grad()
        def evaluate(m: torch.nn.Module = model, b: dict = batch) -> None:
            m.eval()
            m(b)
            m.train()

        rate, base_rate = _rates(evaluate, baseline_eval, args.batch, args.steps)
        print(
            f"| {name} | {train:.1f} | {base_train:.1f} | {train / base_train:.2f} "
            f"| {rate:.1f} | {base_rate:.1f} | {rate / base_rate:.2f} |"
        )
    # What unrender.train.loop.deterministic costs: the same rgb training step with
    # torch.use_deterministic_algorithms on, against the step with it off.
    plain, strict = build_model("rgb"), build_model("rgb")
    batch = _batch(("rgb",), args.batch, args.size)
    plain_step = _train_step(plain, lambda: plain(batch))
    strict_inner = _train_step(strict, lambda: strict(batch))

    def strict_step() -> None:
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            strict_inner()
        finally:
            torch.use_deterministic_algorithms(False)

    on, off = _rates(strict_step, plain_step, args.batch, max(3, args.steps // 3))
    print(
        f"\nrgb train step, use_deterministic_algorithms on: {on:.1f} img/s, off: {off:.1f} img/s"
    )
    print(f"slowdown with it on: {off / on:.1f}x")


if __name__ == "__main__":
    main()
