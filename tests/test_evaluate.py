"""Evaluation: metric values by hand, cluster bootstrap, paired tests, DeLong, Holm, small n,
ensembles, run outputs and summary.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.imports import module_level_imports
from unrender.evaluate import predictions
from unrender.evaluate.bootstrap import (
    Level,
    bootstrap,
    cluster_strata,
    draw_counts,
    interval,
    paired_p_value,
)
from unrender.evaluate.delong import delong_test, placements
from unrender.evaluate.ensembles import (
    STACKED_INPUTS,
    Stacker,
    ensemble_mean,
    ensemble_stacked,
    fit_stacker,
)
from unrender.evaluate.holm import holm
from unrender.evaluate.metrics import (
    METRICS,
    binary_metrics,
    equal_error_rate,
    midranks,
    roc_curve,
    weighted_metrics,
)
from unrender.evaluate.run import ALL_MODELS, ENSEMBLES, SCORED, evaluate_run, levels, score_level
from unrender.io import read_tsv, write_tsv
from unrender.modalities import MODALITIES


def test_metrics_match_hand_computed_values() -> None:
    # Ranked: 0.9 fake, 0.6 real, 0.45 fake, 0.2 real, 0.1 real.
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.6, 0.45, 0.9])
    m = binary_metrics(labels, probs)
    assert m["auc"] == pytest.approx(5 / 6)  # fake > real in 5 of 6 pairs
    assert m["acc"] == pytest.approx(3 / 5)  # 0.6 and 0.45 are wrong at 0.5
    assert m["ap"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)  # precision 1 then 2/3
    # ROC (0,0) (0,.5) (1/3,.5) (1/3,1) ...: fpr = fnr = 1/3 on the vertical segment.
    assert m["eer"] == pytest.approx(1 / 3)
    assert binary_metrics(np.array([0, 1]), np.array([0.2, 0.8]))["eer"] == 0.0
    assert binary_metrics(np.array([0, 1]), np.array([0.8, 0.2]))["eer"] == 1.0
    one_class = binary_metrics(np.array([1, 1]), np.array([0.7, 0.2]))
    assert one_class["acc"] == 0.5 and np.isnan(one_class["auc"]) and np.isnan(one_class["eer"])


def _scores_with_ties(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities rounded to 1-3 decimals, so that many scores tie."""
    return rng.integers(0, 2, n), np.round(rng.random(n), int(rng.integers(1, 4)))


def test_metrics_are_what_torchmetrics_computes() -> None:
    # Our numpy metrics replaced torchmetrics' (start-up cost, bootstrap speed); on scores with
    # ties, one class, all-equal scores and a single row they must give the same values. The
    # tolerance is torchmetrics' float32 rates.
    import torch
    from torchmetrics.functional.classification import (
        binary_accuracy,
        binary_auroc,
        binary_average_precision,
        binary_roc,
    )

    rng = np.random.default_rng(0)
    cases = [_scores_with_ties(rng, int(rng.integers(2, 80))) for _ in range(60)]
    cases += [(np.array([0, 1, 1, 0]), np.full(4, 0.5)), (np.array([1]), np.array([0.7]))]
    for labels, probs in cases:
        ours = binary_metrics(labels, probs)
        preds, target = torch.from_numpy(probs), torch.from_numpy(labels)
        acc = float(binary_accuracy(preds, target, validate_args=False))
        assert ours["acc"] == pytest.approx(acc, abs=1e-6)
        if len(np.unique(labels)) < 2:
            assert all(np.isnan(ours[k]) for k in ("auc", "ap", "eer"))
            continue
        assert ours["auc"] == pytest.approx(float(binary_auroc(preds, target)), abs=1e-6)
        ap = float(binary_average_precision(preds, target))
        assert ours["ap"] == pytest.approx(ap, abs=1e-6)
        fpr, tpr, _ = binary_roc(preds, target)
        ours_fpr, ours_tpr = roc_curve(labels, probs)
        np.testing.assert_allclose(ours_fpr, fpr.double().numpy(), atol=1e-6)
        np.testing.assert_allclose(ours_tpr, tpr.double().numpy(), atol=1e-6)
        eer = equal_error_rate(fpr.double().numpy(), tpr.double().numpy())
        assert ours["eer"] == pytest.approx(eer, abs=1e-6)


def test_weighted_metrics_are_the_metrics_of_the_repeated_rows() -> None:
    # How the bootstrap scores a resample: row weights (pick counts, zeros included) must give
    # what scoring the rows repeated that many times gives.
    rng = np.random.default_rng(1)
    for _ in range(40):
        labels, probs = _scores_with_ties(rng, int(rng.integers(1, 40)))
        weights = rng.integers(0, 3, (5, len(labels)))
        weights[:, 0] += weights.sum(1) == 0  # no empty resample
        values = weighted_metrics(labels, probs, weights)
        for b, w in enumerate(weights):
            repeated = binary_metrics(np.repeat(labels, w), np.repeat(probs, w))
            for k in METRICS:
                np.testing.assert_allclose(values[k][b], repeated[k], rtol=0, atol=1e-12)


def test_midranks_are_scipys_average_ranks() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(2)
    for n in (0, 1, 2, 7, 100):
        values = np.round(rng.normal(size=n), 1)
        np.testing.assert_array_equal(midranks(values), rankdata(values))


@pytest.mark.parametrize(
    "module",
    ["unrender.evaluate.run", "unrender.evaluate.robustness", "unrender.evaluate.shortcuts"],
)
def test_evaluation_jobs_import_no_torch(module: str) -> None:
    # Importing torch is ~5 s of a job's start-up, torchmetrics ~7 s more, scipy.stats ~2 s;
    # the evaluation is numpy (its jobs run in under 10 s on the tiny run).
    imported = module_level_imports(module)
    assert "numpy" in imported  # the walk follows the imports
    assert not imported & {"torch", "torchvision", "torchmetrics", "scipy"}


def test_eer_interpolates_inside_a_segment() -> None:
    fpr, tpr = np.array([0.0, 0.2, 0.6, 1.0]), np.array([0.0, 0.6, 0.8, 1.0])
    # gap = fpr - fnr: -1, -0.2, +0.4 -> crossing a third of the way from point 1 to 2.
    assert equal_error_rate(fpr, tpr) == pytest.approx(0.2 + (0.2 / 0.6) * 0.4)
    f, t = roc_curve(np.array([0, 1, 1]), np.array([0.1, 0.4, 0.9]))
    assert (f[0], t[0], f[-1], t[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_bootstrap_resamples_videos_not_frames() -> None:
    rng = np.random.default_rng(0)
    n_videos, per_video = 12, 40
    video_labels = np.arange(n_videos) % 2
    video_probs = np.clip(0.5 + 0.25 * (video_labels - 0.5) + rng.normal(0, 0.25, n_videos), 0, 1)
    unit = np.repeat(np.arange(n_videos), per_video)
    labels, probs = video_labels[unit], video_probs[unit]  # frames of a video agree
    by_video = Level("frame", labels, unit, np.arange(n_videos), {"m": probs})
    by_frame = Level("frame", labels, np.arange(len(labels)), np.arange(len(labels)), {"m": probs})
    lo_v, hi_v = interval(bootstrap(by_video, 300, seed=1, unit="video")["m"]["auc"])
    lo_f, hi_f = interval(bootstrap(by_frame, 300, seed=1, unit="video")["m"]["auc"])
    point = binary_metrics(labels, probs)["auc"]
    assert lo_v <= point <= hi_v and lo_f <= point <= hi_f
    # 12 correlated clusters carry far less information than 480 independent frames.
    assert hi_v - lo_v > 2 * (hi_f - lo_f)
    strata = cluster_strata(np.arange(n_videos), video_labels)
    np.testing.assert_array_equal(strata, video_labels + 1)  # 1: real only, 2: fake only
    counts = draw_counts(strata, 50, seed=2)
    assert counts.shape == (50, n_videos)
    assert (counts[:, video_labels == 0].sum(1) == 6).all()  # stratified: 6 reals per draw
    assert (counts[:, video_labels == 1].sum(1) == 6).all()
    np.testing.assert_array_equal(counts, draw_counts(strata, 50, seed=2))


def _grouped(copies: int, seed: int = 0) -> Level:
    """10 groups of one real and one fake video (a source and its fake), each ``copies``
    times, the copies identical; 3 frames per video."""
    rng = np.random.default_rng(seed)
    n_groups, frames = 10, 3
    real = rng.uniform(0.2, 0.7, n_groups)
    fake = real + rng.normal(0.15, 0.2, n_groups)  # the fake resembles its source
    video_prob = np.stack([real, fake], 1)  # (G, 2)
    videos = [(g, c, label) for g in range(n_groups) for c in range(copies) for label in (0, 1)]
    unit = np.repeat(np.arange(len(videos)), frames)
    group = np.array([g for g, _, _ in videos])
    labels = np.array([label for _, _, label in videos])[unit]
    probs = np.array([video_prob[g, label] for g, _, label in videos])[unit]
    return Level("frame", labels, unit, group, {"m": probs})


def test_group_bootstrap_counts_identical_copies_once() -> None:
    once, copied = _grouped(1), _grouped(8)
    assert (once.n_groups, copied.n_groups) == (10, 10)
    assert copied.n_units == 8 * once.n_units == 160
    assert once.clusters_per_class("group") == copied.clusters_per_class("group") == (10, 10)
    np.testing.assert_array_equal(cluster_strata(copied.clusters("group"), copied.labels), 3)
    # Eight identical copies of each video add no information: the group bootstrap of the
    # copies gives the very CI of one video per group.
    a = bootstrap(once, 200, seed=3, unit="group")
    b = bootstrap(copied, 200, seed=3, unit="group")
    np.testing.assert_allclose(b["m"]["auc"], a["m"]["auc"])
    lo_g, hi_g = interval(b["m"]["auc"])
    assert (lo_g, hi_g) == pytest.approx(interval(a["m"]["auc"])) and hi_g - lo_g > 0.1
    # Taking the copies as independent videos makes the interval far too narrow.
    lo_v, hi_v = interval(bootstrap(copied, 200, seed=3, unit="video")["m"]["auc"])
    assert hi_v - lo_v < 0.6 * (hi_g - lo_g)
    with pytest.raises(ValueError, match="evaluate.unit"):
        copied.clusters("frame")


def test_holm_on_known_p_values() -> None:
    # Sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    assert holm([0.3, 0.04]) == pytest.approx([0.3, 0.08])
    assert holm([0.6, 0.7, 0.2]) == pytest.approx([1.0, 1.0, 0.6])  # capped at 1
    out = holm([float("nan"), 0.02, 0.04])  # an undefined test is not in the family
    assert np.isnan(out[0]) and out[1:] == pytest.approx([0.04, 0.04])


def test_delong_against_a_hand_derived_example() -> None:
    # Two reals, two fakes. Model a: reals 0.1, 0.4; fakes 0.35, 0.8. Pairs fake > real:
    # 0.35 > 0.1, 0.8 > 0.1, 0.8 > 0.4 -> AUC 3/4. Placements: fakes (1/2, 1), reals (1, 1/2).
    labels = np.array([0, 0, 1, 1])
    a = np.array([0.1, 0.4, 0.35, 0.8])
    fake_places, real_places = placements(labels, a)
    np.testing.assert_allclose(fake_places, [0.5, 1.0])
    np.testing.assert_allclose(real_places, [1.0, 0.5])
    # Model b separates perfectly: AUC 1, placements all 1, no variance or covariance. With
    # S = var([1/2, 1], ddof=1) = 1/8 for a's fakes and reals, Var(a - b) = Var(a) =
    # S_fake / 2 + S_real / 2 = 1/8, so z = (3/4 - 1) / sqrt(1/8) = -1/sqrt(2).
    b = np.array([0.2, 0.3, 0.6, 0.9])
    z, p = delong_test(labels, a, b)
    assert z == pytest.approx(-1 / np.sqrt(2))
    assert p == pytest.approx(0.4795001221869535)  # 2 * (1 - Phi(0.70711)), normal table
    # Model c also has AUC 3/4, but misranks the other fake: fake placements (1, 1/2) move
    # against a's (covariance -1/8), real placements (1, 1/2) with them (+1/8). Var(a - c) =
    # (1/8 + 1/8 + 2/8) / 2 + (1/8 + 1/8 - 2/8) / 2 = 1/4; delta 0 -> z = 0, p = 1.
    c = np.array([0.2, 0.5, 0.9, 0.3])
    assert delong_test(labels, a, c) == pytest.approx((0.0, 1.0))
    # Ties count one half: a constant score has AUC 1/2 and placements 1/2.
    tied_fake, tied_real = placements(labels, np.full(4, 0.5))
    np.testing.assert_allclose(np.concatenate([tied_fake, tied_real]), 0.5)
    assert delong_test(labels, a, a) == (0.0, 1.0)
    assert all(np.isnan(delong_test(np.array([0, 1, 1]), a[:3], b[:3])))  # one real only


def test_delong_agrees_with_the_paired_bootstrap_on_many_independent_rows() -> None:
    level = _level(n=200, seed=4)
    _, comparisons = score_level(level, 500, seed=0, unit="video")
    for c in comparisons:
        assert (float(c["p_value"]) < 0.01) == (float(c["delong_p"]) < 0.01), c
    better = next(c for c in comparisons if c["model"] == "ensemble_mean")
    assert float(better["delong_z"]) > 3


def _level(n: int = 40, seed: int = 0) -> Level:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    noisy = np.clip(0.5 + 0.1 * (labels - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    clean = np.clip(0.5 + 0.8 * (labels - 0.5) + rng.normal(0, 0.05, n), 0, 1)
    probs = {"rgb": noisy, "ensemble_net": noisy.copy(), "ensemble_mean": clean}
    return Level("video", labels, np.arange(n), np.arange(n), probs)


def test_paired_test_small_p_for_a_better_model_and_one_for_identical() -> None:
    _, comparisons = score_level(_level(), 500, seed=0, unit="video")
    by_model = {c["model"]: c for c in comparisons}
    assert set(by_model) == {"ensemble_net", "ensemble_mean"}  # stacked absent here
    assert float(by_model["ensemble_net"]["p_value"]) == 1.0
    assert float(by_model["ensemble_net"]["delta_auc"]) == 0.0
    better = by_model["ensemble_mean"]
    assert float(better["p_value"]) < 0.01
    assert 0 < float(better["delta_lo"]) <= float(better["delta_auc"]) <= float(better["delta_hi"])
    assert paired_p_value(np.array([0.1, 0.2, -0.1, 0.3])) == pytest.approx(2 * 2 / 5)
    assert np.isnan(paired_p_value(np.array([np.nan, np.nan])))


def _tables(seed: int = 0) -> dict[str, predictions.Predictions]:
    """Predictions of the trained models: 16 val + 40 test videos x 3 frames, 5 test images
    (2 real, 3 fake). Test videos come in 20 groups of a real and its fake (:func:`_groups`).

    ``shading`` and ``ensemble_net`` carry the signal, the rest is noise.
    """
    rng = np.random.default_rng(seed)
    rows = [
        (f"v{i}", k, "val" if i < 16 else "test", i % 2, "video")
        for i in range(56)
        for k in range(3)
    ]
    rows += [(f"im{i}", 0, "test", int(i >= 2), "image") for i in range(5)]
    sid, k, split, label, kind = (list(c) for c in zip(*rows, strict=True))
    labels = np.array(label)
    out = {}
    for m in SCORED:
        signal = 0.6 if m in ("shading", "ensemble_net") else 0.0
        prob = np.clip(0.5 + signal * (labels - 0.5) + rng.normal(0, 0.15, len(rows)), 0.01, 0.99)
        out[m] = predictions.from_rows(sid, k, split, label, prob, kind)
    return out


def _groups() -> dict[str, str]:
    """sample_id -> group of :func:`_tables`: videos in pairs, each image its own."""
    return {f"v{i}": f"g{i // 2}" for i in range(56)} | {f"im{i}": f"im{i}" for i in range(5)}


def test_ensembles_mean_and_stacked_fit_on_val_only() -> None:
    tables = _tables()
    mean = ensemble_mean(tables)
    np.testing.assert_allclose(mean.prob, np.mean([tables[m].prob for m in MODALITIES], axis=0))
    stacker = fit_stacker(tables)
    assert stacker.inputs == STACKED_INPUTS == (*MODALITIES, "lighting_consistency")
    assert max(stacker.coef, key=abs) == stacker.coef[STACKED_INPUTS.index("shading")] > 0
    scrambled = dict(tables)
    for m in STACKED_INPUTS:  # any change to test rows leaves the fit alone
        t = tables[m]
        scrambled[m] = t.with_prob(np.where(t.split == "test", 1 - t.prob, t.prob))
    assert fit_stacker(scrambled) == stacker
    stacked = ensemble_stacked(tables, stacker)
    assert stacked.same_rows(tables["rgb"]) and ((stacked.prob > 0) & (stacked.prob < 1)).all()
    with pytest.raises(ValueError, match="one class"):
        fit_stacker({m: t.select(t.label == 1) for m, t in tables.items()})


def test_stacker_json_round_trip(tmp_path: Path) -> None:
    s = Stacker(("a", "b"), (0.5, -1.0), 0.25)
    s.save(tmp_path / "s.json")
    assert Stacker.load(tmp_path / "s.json") == s
    a, b = np.array([0.5, 0.9]), np.array([0.5, 0.1])
    z = 0.25 + 0.5 * np.log(a / (1 - a)) - 1.0 * np.log(b / (1 - b))
    np.testing.assert_allclose(s.apply({"b": b, "a": a, "c": a}), 1 / (1 + np.exp(-z)))


def test_video_level_is_the_mean_of_frame_probabilities() -> None:
    tables = _tables()
    by_name = {lv.name: lv for lv in levels(tables)}
    assert set(by_name) == {"frame", "video", "image"}
    frame, video = by_name["frame"], by_name["video"]
    assert len(frame.labels) == 120 and frame.n_units == 40 and len(video.labels) == 40
    rgb = tables["rgb"]
    for u in range(video.n_units):
        rows = frame.unit == u
        assert video.probs["rgb"][u] == pytest.approx(frame.probs["rgb"][rows].mean())
        assert video.labels[u] == frame.labels[rows][0]
    assert len(by_name["image"].labels) == 5
    assert set(rgb.sample_id[(rgb.split == "test") & (rgb.kind == "video")]) == {
        f"v{i}" for i in range(16, 56)
    }
    grouped = {lv.name: lv for lv in levels(tables, _groups())}
    assert grouped["video"].n_groups == grouped["frame"].n_groups == 20
    assert grouped["image"].n_groups == 5 and by_name["video"].n_groups == 40
    with pytest.raises(ValueError, match="no group known"):
        levels(tables, {"v0": "g0"})


def _evaluate(tmp_path: Path, tables: dict[str, predictions.Predictions], out: str) -> Path:
    """Write the tables as predictions TSVs under ``tmp_path``, evaluate into ``tmp_path/out``."""
    paths = {}
    for m, t in tables.items():
        paths[m] = tmp_path / "pred" / f"{m}.tsv"
        predictions.write(paths[m], t)
    d = tmp_path / out
    evaluate_run(
        paths,
        d / "metrics.tsv",
        d / "comparison.tsv",
        d / "roc.png",
        d / "mean.tsv",
        d / "stacked.tsv",
        d / "stacker.json",
        groups=_groups(),
        n_resamples=150,  # Holm needs 3 * 2 / (B + 1) < 0.05 for a finding
        seed=0,
    )
    return d


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same predictions evaluated twice, into two folders."""
    tmp_path = tmp_path_factory.mktemp("evaluated")
    return _evaluate(tmp_path, _tables(), "a"), _evaluate(tmp_path, _tables(), "b")


def test_evaluate_run_writes_every_model_and_level_reproducibly(
    evaluated: tuple[Path, Path],
) -> None:
    a, b = evaluated
    for name in ("metrics.tsv", "comparison.tsv", "stacked.tsv", "stacker.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    metrics = read_tsv(a / "metrics.tsv")
    assert [(r["model"], r["level"]) for r in metrics] == [
        (m, lv) for lv in ("frame", "video", "image") for m in ALL_MODELS
    ]
    for r in metrics:
        assert float(r["auc_lo"]) <= float(r["auc"]) <= float(r["auc_hi"])
    video = {r["model"]: r for r in metrics if r["level"] == "video"}
    assert float(video["shading"]["auc"]) > 0.9 > float(video["albedo"]["auc"])
    assert video["rgb"]["n"] == video["rgb"]["n_units"] == "40"
    assert (video["rgb"]["n_groups"], video["rgb"]["bootstrap_unit"]) == ("20", "group")
    # Every pair holds a real and a fake: 20 groups of each class, enough for CIs; the
    # image level has 2 real and 3 fake images, which is not.
    assert (video["rgb"]["clusters_real"], video["rgb"]["clusters_fake"]) == ("20", "20")
    assert {r["small_n"] for r in metrics if r["level"] != "image"} == {"no"}
    assert {r["small_n"] for r in metrics if r["level"] == "image"} == {"yes"}
    comparison = read_tsv(a / "comparison.tsv")
    assert [(c["model"], c["level"]) for c in comparison] == [
        (m, lv) for lv in ("frame", "video", "image") for m in ENSEMBLES
    ]
    # Holm over the three ensembles of a level: never below the raw p, monotone in it.
    for lv in ("frame", "video"):
        family = sorted(
            (float(c["p_value"]), float(c["p_holm"])) for c in comparison if c["level"] == lv
        )
        assert all(adj >= raw for raw, adj in family)
        assert [adj for _, adj in family] == sorted(adj for _, adj in family)
        assert family[0][1] == pytest.approx(min(1.0, 3 * family[0][0]), abs=2e-6)
    net = next(c for c in comparison if (c["model"], c["level"]) == ("ensemble_net", "video"))
    assert float(net["delong_p"]) < 0.01 and float(net["delong_z"]) > 0
    assert (a / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert predictions.read(a / "mean.tsv").same_rows(_tables()["rgb"])


def test_evaluate_run_refuses_mismatched_predictions(tmp_path: Path) -> None:
    tables = _tables()
    tables["albedo"] = tables["albedo"].select(np.arange(len(tables["albedo"])) > 0)
    with pytest.raises(ValueError, match="same frames"):
        _evaluate(tmp_path, tables, "x")


def _meta(model: str, best: int, run: int, max_epochs: int = 8) -> dict:
    history = [{"epoch": e, "val_auc": 0.5 + 0.01 * e, "val_loss": 1.0} for e in range(1, run + 1)]
    return {
        "model": model,
        "options": {
            "arch": "resnet18",
            "pretrained": "none",
            "image_size": 64,
            "max_epochs": max_epochs,
            "patience": 3,
        },
        "splits": {"train": {"video_real": 3, "frames": 9}, "val": {}, "test": {}},
        "best_epoch": best,
        "epochs_run": run,
        "chose_last_epoch": best == run == max_epochs,
        "history": history,
    }


EVALUATE = {"bootstrap": 150, "unit": "group", "min_per_class": 10, "shortcut_warning_auc": 0.7}


def _shortcut(feature: str, auc: float, **size: str) -> dict[str, str]:
    return {
        "level": "video",
        "feature": feature,
        "n": "40",
        "n_groups": "20",
        "bootstrap_unit": "group",
        "clusters_real": "20",
        "clusters_fake": "20",
        "small_n": "no",
        "direction": "higher is fake",
        "auc": str(auc),
        "auc_lo": str(auc - 0.1),
        "auc_hi": str(min(auc + 0.1, 1)),
        "warning": "yes" if auc >= 0.7 else "no",
        **size,
    }


def _summary(
    d: Path,
    out: Path,
    planted: str | None = "Planted: lights 80 degrees apart.",
    shortcuts: list[dict[str, str]] | None = None,
) -> str:
    from unrender.report.summary import describe_data, write_summary

    metas = {"rgb": _meta("rgb", 8, 8), "shading": _meta("shading", 2, 5)}
    data = describe_data({"kind": "synth"}, {"synth-real": 3, "synth-swap-feather": 2}, planted)
    write_summary(
        out,
        "demo",
        read_tsv(d / "metrics.tsv"),
        read_tsv(d / "comparison.tsv"),
        shortcuts or [_shortcut("file_size", 0.52), _shortcut("frame_count", 0.5)],
        metas,
        EVALUATE,
        data,
    )
    return out.read_text()


def test_summary_states_the_data_answer_training_and_tables(
    evaluated: tuple[Path, Path], tmp_path: Path
) -> None:
    from unrender.report.summary import verdict

    text = _summary(evaluated[0], tmp_path / "summary.md")
    assert "# unrender: results of run `demo`" in text
    head = text.split("**Question.**")[0]  # the data come first, and what was planted
    assert "Dataset kind `synth`" in head and "synth-real (3)" in head
    assert "**These data are synthetic.** Planted: lights 80 degrees apart." in head
    assert "not evidence about real deepfakes" in head
    # ensemble_net has the signal; the headline uses the Holm-adjusted p, with n and groups.
    video = {c["model"]: c for c in read_tsv(evaluated[0] / "comparison.tsv")}
    headline = next(line for line in text.splitlines() if "**ensemble_net beats RGB**" in line)
    assert "the video level, n = 40 videos in 20 groups" in headline
    net = next(
        c
        for c in read_tsv(evaluated[0] / "comparison.tsv")
        if (c["model"], c["level"]) == ("ensemble_net", "video")
    )
    assert f"Holm-adjusted p = {float(net['p_holm']):.3g}" in headline
    assert "bootstrap over 20 real / 20 fake groups" in headline and "α = 0.05" in headline
    assert video
    for level in ("frame", "video", "image"):
        assert f"## Test metrics, {level} level" in text
    assert "n = 120 frames of 40 videos in 20 groups; bootstrap over 20 real / 20 fake" in text
    assert "| train | 3 | 0 | 0 | 0 | 9 |" in text
    # Training: rgb ran out of epochs on its best one, shading stopped early.
    assert "| rgb | 8 | 8 | 0.580 | **chose its last epoch**" in text
    assert "| shading | 2 | 5 | 0.520 | early-stopped |" in text
    assert "at most 8 epochs, stopped early after 3 epochs" in text
    row = {
        "model": "m",
        "level": "video",
        "n": "40",
        "n_units": "40",
        "n_groups": "20",
        "bootstrap_unit": "group",
        "clusters_real": "20",
        "clusters_fake": "20",
        "small_n": "no",
        "delta_auc": "0.01",
        "delta_lo": "-0.1",
        "delta_hi": "0.12",
        "p_value": "0.01",
        "p_holm": "0.8",
    }
    # The verdict goes by the adjusted p: a raw 0.01 adjusted to 0.8 is no finding.
    assert verdict(row, 10).startswith("m and RGB do not differ significantly")
    strong = {**row, "delta_auc": "-0.3", "p_holm": "0.002"}
    assert verdict(strong, 10).startswith("**RGB beats m**")
    small = {**strong, "clusters_real": "4", "small_n": "yes"}
    assert verdict(small, 10) == (
        "m vs RGB at the video level, n = 40 videos in 20 groups: ΔAUC = -0.300, not tested: "
        "n too small (4 real / 20 fake groups; fewer than 10 per class)."
    )


def test_five_test_images_never_show_a_confidence_interval(
    evaluated: tuple[Path, Path], tmp_path: Path
) -> None:
    text = _summary(evaluated[0], tmp_path / "summary.md", planted=None)
    assert "These data are synthetic" not in text
    image = text.split("## Test metrics, image level")[1].split("##")[0]
    assert "n = 5 images in 5 groups. **n too small (2 real / 3 fake groups; fewer than 10" in image
    assert "[" not in image  # no interval at all, let alone a zero-width one
    metrics = read_tsv(evaluated[0] / "metrics.tsv")
    stacked = next(r for r in metrics if (r["model"], r["level"]) == ("shading", "image"))
    assert stacked["small_n"] == "yes"
    comparisons = text.split("## Ensembles vs RGB")[1].split("##")[0]
    image_rows = [line for line in comparisons.splitlines() if "| image |" in line]
    assert len(image_rows) == 3
    assert all("n too small (2 real / 3 fake groups" in line for line in image_rows)
    assert all("[" not in line for line in image_rows)
    # A run without videos headlines the image level, and tests nothing there.
    d = tmp_path / "images_only"
    d.mkdir()
    for name in ("metrics.tsv", "comparison.tsv"):
        rows = [r for r in read_tsv(evaluated[0] / name) if r["level"] == "image"]
        write_tsv(d / name, rows, list(rows[0]))
    text = _summary(d, tmp_path / "images.md")
    answer = text.split("## Training")[0]
    assert answer.count("not tested: n too small") == 3 and "beats" not in answer


def test_summary_shows_the_shortcut_audit_and_warns_above_the_threshold(
    evaluated: tuple[Path, Path], tmp_path: Path
) -> None:
    quiet = _summary(evaluated[0], tmp_path / "quiet.md")
    assert "## Shortcut audit" in quiet and "Shortcut warning" not in quiet
    assert "| video | file_size | higher is fake | 0.520 [0.420, 0.620] | no |" in quiet
    assert "- video: n = 40 videos in 20 groups." in quiet
    rows = [_shortcut("format", 0.93), _shortcut("file_size", 0.5)]
    loud = _summary(evaluated[0], tmp_path / "loud.md", shortcuts=rows)
    answer = loud.split("## Training")[0]  # the warning sits with the answer, at the top
    assert "⚠ **Shortcut warning**: `format` alone reaches test AUC 0.930 at the video level" in (
        answer
    )
    assert "file_size` alone" not in loud


def _robustness_runs(noise: float, seed: int = 5) -> dict[str, dict[str, predictions.Predictions]]:
    """A clean run (every model of robustness.tsv; the ensembles score as shading does) where
    ``normal`` has a weak signal, and ``jpeg50``, its test split, where only normal's scores
    get ``noise`` more noise."""
    clean = _tables()
    clean |= {m: clean["shading"] for m in ALL_MODELS if m not in clean}
    rng = np.random.default_rng(seed)
    labels = clean["normal"].label
    weak = np.clip(0.5 + 0.12 * (labels - 0.5) + rng.normal(0, 0.15, len(labels)), 0, 1)
    clean["normal"] = clean["normal"].with_prob(weak)
    noisy = clean["normal"].with_prob(np.clip(weak + rng.normal(0, noise, len(labels)), 0, 1))
    test = clean["normal"].split == "test"
    perturbed = {m: (noisy if m == "normal" else t).select(test) for m, t in clean.items()}
    return {"none": clean, "jpeg50": perturbed}


def test_robustness_drops_are_paired_with_the_clean_draws() -> None:
    from unrender.evaluate.robustness import ROBUSTNESS_COLUMNS, robustness_rows

    rows = robustness_rows(_robustness_runs(noise=0.3), _groups(), 400, seed=3)
    assert all(set(r) == set(ROBUSTNESS_COLUMNS) for r in rows)
    by_key = {(r["perturbation"], r["model"], r["level"]): r for r in rows}
    drops = ("delta_auc", "delta_lo", "delta_hi")
    for (name, model, level), r in by_key.items():
        if name == "none" or model != "normal":
            # The same scores on the same draws: every paired difference is exactly zero.
            assert [r[c] for c in drops] == ["0.000000"] * 3, (name, model, level)
        assert by_key[(name, "rgb", level)]["delta_vs_rgb"] == "0.000000"
    for level in ("frame", "video"):
        clean, noisy = by_key[("none", "normal", level)], by_key[("jpeg50", "normal", level)]
        delta = float(noisy["auc"]) - float(clean["auc"])
        assert float(noisy["delta_auc"]) == pytest.approx(delta, abs=2e-6)
        # RGB's scores did not change, so normal's drop is also its drop against RGB's.
        assert [noisy[f"delta_vs_rgb{s}"] for s in ("", "_lo", "_hi")] == [noisy[c] for c in drops]
        # The noise costs normal AUC, and the paired interval excludes zero, while the two
        # unpaired intervals overlap: pairing is what makes the drop visible.
        assert float(noisy["delta_lo"]) <= float(noisy["delta_hi"]) < 0
        assert float(noisy["auc_hi"]) > float(clean["auc_lo"])


def test_robustness_refuses_a_perturbed_split_of_other_samples() -> None:
    from unrender.evaluate.robustness import robustness_rows

    runs = _robustness_runs(noise=0.1)
    runs["jpeg50"] = {m: t.select(t.sample_id != "v20") for m, t in runs["jpeg50"].items()}
    with pytest.raises(ValueError, match="jpeg50: test samples v20 are in only one of"):
        robustness_rows(runs, _groups(), 10, seed=0)


def test_the_summary_prints_robustness_as_auc_and_change_against_rgb_per_perturbation() -> None:
    from unrender.evaluate.robustness import robustness_rows
    from unrender.report.robustness import robustness_lines

    rows = [
        {k: str(v) for k, v in r.items()}
        for r in robustness_rows(_robustness_runs(noise=0.3), _groups(), 400, seed=3)
    ]
    lines = robustness_lines(rows, min_per_class=2)
    assert lines[0] == "## Robustness to laundering (evaluate.perturb)"
    video = lines[lines.index("### video level") : lines.index("### image level")]
    at = {(r["perturbation"], r["model"]): r for r in rows if r["level"] == "video"}
    auc_header = video.index("| model | none | jpeg50 |")
    for i, model in enumerate(ALL_MODELS):
        cells = [c.strip() for c in video[auc_header + 2 + i].strip("|").split("|")]
        clean, noisy = (float(at[(n, model)]["auc"]) for n in ("none", "jpeg50"))
        assert cells[0] == model
        assert cells[1].startswith(f"{clean:.3f} [") and cells[2].startswith(f"{noisy:.3f} [")
    # The change against RGB's change: one column per perturbation, RGB itself not a row.
    change = video.index("| model | jpeg50 |")
    normal = at[("jpeg50", "normal")]
    lo, hi = (float(normal[f"delta_vs_rgb_{e}"]) for e in ("lo", "hi"))
    assert f"| normal | {float(normal['delta_vs_rgb']):+.3f} [{lo:+.3f}, {hi:+.3f}] |" in video
    assert not any(line.startswith("| rgb |") for line in video[change:])
    assert robustness_lines([], 2) == []

    # Under min_per_class no interval is printed and no caption promises one.
    small = robustness_lines([{**r, "small_n": "yes"} for r in rows], min_per_class=2)
    assert not [line for line in small if "[" in line.replace("[95% CI]", "@")]
    assert not [line for line in small if "95% CI" in line]
    assert any("n too small" in line for line in small)
