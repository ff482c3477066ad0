"""Evaluation: metric values by hand, video bootstrap, paired tests, ensembles, run outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unrender.evaluate import predictions
from unrender.evaluate.bootstrap import Level, bootstrap, draw_counts, interval, paired_p_value
from unrender.evaluate.ensembles import Stacker, ensemble_mean, ensemble_stacked, fit_stacker
from unrender.evaluate.metrics import binary_metrics, equal_error_rate, roc_curve
from unrender.evaluate.run import ALL_MODELS, ENSEMBLES, TRAINED, evaluate_run, levels, score_level
from unrender.io import read_tsv
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
    by_video = Level("frame", labels, unit, {"m": probs})
    by_frame = Level("frame", labels, np.arange(len(labels)), {"m": probs})
    lo_v, hi_v = interval(bootstrap(by_video, 300, seed=1)["m"]["auc"])
    lo_f, hi_f = interval(bootstrap(by_frame, 300, seed=1)["m"]["auc"])
    point = binary_metrics(labels, probs)["auc"]
    assert lo_v <= point <= hi_v and lo_f <= point <= hi_f
    # 12 correlated clusters carry far less information than 480 independent frames.
    assert hi_v - lo_v > 2 * (hi_f - lo_f)
    counts = draw_counts(video_labels, 50, seed=2)
    assert counts.shape == (50, n_videos)
    assert (counts[:, video_labels == 0].sum(1) == 6).all()  # stratified: 6 reals per draw
    assert (counts[:, video_labels == 1].sum(1) == 6).all()
    np.testing.assert_array_equal(counts, draw_counts(video_labels, 50, seed=2))


def _level(n: int = 40, seed: int = 0) -> Level:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    noisy = np.clip(0.5 + 0.1 * (labels - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    clean = np.clip(0.5 + 0.8 * (labels - 0.5) + rng.normal(0, 0.05, n), 0, 1)
    probs = {"rgb": noisy, "ensemble_net": noisy.copy(), "ensemble_mean": clean}
    return Level("video", labels, np.arange(n), probs)


def test_paired_test_small_p_for_a_better_model_and_one_for_identical() -> None:
    _, comparisons = score_level(_level(), 500, seed=0)
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
    """Predictions of the trained models: 16 val + 16 test videos x 3 frames, 6 test images.

    ``shading`` and ``ensemble_net`` carry the signal, the rest is noise.
    """
    rng = np.random.default_rng(seed)
    rows = [
        (f"v{i}", k, "val" if i < 16 else "test", i % 2, "video")
        for i in range(32)
        for k in range(3)
    ]
    rows += [(f"im{i}", 0, "test", i % 2, "image") for i in range(6)]
    sid, k, split, label, kind = (list(c) for c in zip(*rows, strict=True))
    labels = np.array(label)
    out = {}
    for m in TRAINED:
        signal = 0.6 if m in ("shading", "ensemble_net") else 0.0
        prob = np.clip(0.5 + signal * (labels - 0.5) + rng.normal(0, 0.15, len(rows)), 0.01, 0.99)
        out[m] = predictions.from_rows(sid, k, split, label, prob, kind)
    return out


def test_ensembles_mean_and_stacked_fit_on_val_only() -> None:
    tables = _tables()
    mean = ensemble_mean(tables)
    np.testing.assert_allclose(mean.prob, np.mean([tables[m].prob for m in MODALITIES], axis=0))
    stacker = fit_stacker(tables)
    assert stacker.inputs == MODALITIES
    assert max(stacker.coef, key=abs) == stacker.coef[MODALITIES.index("shading")] > 0
    scrambled = dict(tables)
    for m in MODALITIES:  # any change to test rows leaves the fit alone
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
    assert len(frame.labels) == 48 and frame.n_units == 16 and len(video.labels) == 16
    rgb = tables["rgb"]
    for u in range(video.n_units):
        rows = frame.unit == u
        assert video.probs["rgb"][u] == pytest.approx(frame.probs["rgb"][rows].mean())
        assert video.labels[u] == frame.labels[rows][0]
    assert len(by_name["image"].labels) == 6
    assert set(rgb.sample_id[(rgb.split == "test") & (rgb.kind == "video")]) == {
        f"v{i}" for i in range(16, 32)
    }


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
        n_resamples=100,
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
    assert video["rgb"]["n"] == video["rgb"]["n_units"] == "16"
    comparison = read_tsv(a / "comparison.tsv")
    assert [(c["model"], c["level"]) for c in comparison] == [
        (m, lv) for lv in ("frame", "video", "image") for m in ENSEMBLES
    ]
    assert (a / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert predictions.read(a / "mean.tsv").same_rows(_tables()["rgb"])


def test_evaluate_run_refuses_mismatched_predictions(tmp_path: Path) -> None:
    tables = _tables()
    tables["albedo"] = tables["albedo"].select(np.arange(len(tables["albedo"])) > 0)
    with pytest.raises(ValueError, match="same frames"):
        _evaluate(tmp_path, tables, "x")


def test_summary_states_the_answer_and_tables(evaluated: tuple[Path, Path], tmp_path: Path) -> None:
    from unrender.report.summary import verdict, write_summary

    d = evaluated[0]
    comparison = read_tsv(d / "comparison.tsv")
    meta = {
        "options": {"arch": "resnet18", "pretrained": "none", "image_size": 64, "epochs": 4},
        "splits": {"train": {"video_real": 3, "frames": 9}, "val": {}, "test": {}},
    }
    out = tmp_path / "summary.md"
    write_summary(out, "demo", read_tsv(d / "metrics.tsv"), comparison, meta, 100)
    text = out.read_text()
    assert "# unrender: results of run `demo`" in text
    assert "**ensemble_net beats RGB** at the video level" in text  # ensemble_net has the signal
    for level in ("frame", "video", "image"):
        assert f"## Test metrics, {level} level" in text
    assert "| train | 3 | 0 | 0 | 0 | 9 |" in text
    row = {
        "model": "m",
        "level": "video",
        "delta_auc": "0.01",
        "delta_lo": "-0.1",
        "delta_hi": "0.12",
        "p_value": "0.8",
    }
    assert verdict(row).startswith("m and RGB do not differ significantly")
    assert verdict({**row, "delta_auc": "-0.3", "p_value": "0.002"}).startswith("**RGB beats m**")
