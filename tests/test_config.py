"""The one schema: defaults, strict options classes, parse-time errors naming the key."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import REPO, refusal, snakemake_command, venv_env, write_config
from unrender import config, video
from unrender.cli import main
from unrender.config import ConfigError, check_run, section, validate
from unrender.faces import FaceOptions
from unrender.pipeline import FrameOptions


def _config(**sections: Any) -> dict[str, Any]:
    return {"run": "t", "dataset": {"kind": "synth"}, **sections}


def test_validate_fills_every_default_from_the_schema() -> None:
    cfg = validate(_config())
    assert cfg["frames"]["size"] == 256 and cfg["frames"]["max_image_pixels"] == 40_000_000
    assert cfg["shard_size"] == 64 and cfg["train"]["split"] == {"val": 0.2, "test": 0.2}
    assert cfg["modalities"] == {"backend": "classical", "batch_size": None}


def test_options_classes_and_cli_share_the_schema_defaults() -> None:
    frames = section("frames")
    assert FrameOptions.from_config({}) == FrameOptions(**frames)
    face = FaceOptions.from_config({})
    assert (face.detector, face.margin, face.size, face.no_face) == (
        frames["face_detector"],
        frames["face_margin"],
        frames["size"],
        frames["no_face"],
    )
    assert frames["max_image_pixels"] == video.DEFAULT_MAX_PIXELS
    from unrender.cli import build_parser

    args = build_parser(["extract"]).parse_args(["extract", "v.mp4", "--out", "o"])
    assert (args.frames, args.size, args.max_pixels) == (
        frames["per_video"],
        frames["size"],
        frames["max_image_pixels"],
    )


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"bogus": 1}, r"^frames: unknown key.*'bogus'"),
        ({"size": 32.0}, r"^frames.size: 32.0 is not of type 'integer'"),
        ({"per_video": 3.0}, r"^frames.per_video: 3.0 is not of type 'integer'"),
        ({"size": 100_000}, r"^frames.size: 100000 is greater than the maximum of 4096"),
        ({"face": "yes"}, r"^frames.face: 'yes' is not of type 'boolean'"),
    ],
)
def test_frame_options_are_strict(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FrameOptions.from_config(bad)
    with pytest.raises(ConfigError, match=match):
        FaceOptions.from_config(bad)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (_config(shard_size=2.0), r"^shard_size: 2.0 is not of type 'integer' \(write a whole"),
        (_config(frames={"size": 32.0}), r"^frames.size: 32.0 is not of type 'integer'"),
        (
            {"run": "t", "dataset": {"kind": "manifest"}},
            r"^dataset: 'manifest' is a required property \(dataset.kind manifest reads",
        ),
        (
            {"run": "t", "dataset": {"kind": "ffpp"}},
            r"^dataset: 'root' is a required property \(dataset.kind ffpp, dfdc",
        ),
        (
            _config(modalities={"backend": "irn"}),
            r"^irn.weights: None is not of type 'string' \(modalities.backend irn needs",
        ),
        (
            _config(modalities={"backend": "irn-tf1"}),
            r"^irn.weights: None is not of type 'string'",
        ),
        (_config(train={"arch": "resnet19"}), r"^train.arch: .*did you mean resnet18"),
        # A device typo fails here, in one line, not at job time inside a GPU rule.
        (_config(irn={"device": "cuda:x"}), r"^irn.device: 'cuda:x' does not match"),
        (_config(stylegan={"device": "gpu"}), r"^stylegan.device: 'gpu' does not match"),
        ({"dataset": {"kind": "synth"}}, r"^'run' is a required property"),
    ],
)
def test_schema_errors_name_the_key(cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate(cfg)


def test_arch_enum_is_torchvisions_list_less_the_networks_without_a_linear_head() -> None:
    torchvision = pytest.importorskip("torchvision")
    from unrender.train.models import build_model

    known = set(torchvision.models.list_models(module=torchvision.models))
    enum = set(config.schema()["properties"]["train"]["properties"]["arch"]["enum"])
    assert enum <= known
    for arch in sorted(known - enum):  # each left out for a reason the trainer would give
        with pytest.raises(ValueError, match="no Linear classification head"):
            build_model("rgb", arch=arch)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (
            _config(modalities={"backend": "irn"}, irn={"weights": "missing.safetensors"}),
            r"^irn.weights: 'missing.safetensors' is not a file",
        ),
        (
            _config(modalities={"backend": "irn-tf1"}, irn={"weights": "nockpt/model.ckpt"}),
            r"^irn.weights: 'nockpt/model.ckpt' is neither a TF1 checkpoint folder",
        ),
        (_config(train={"pretrained": "w.pt"}), r"^train.pretrained: 'w.pt' is neither none"),
        (
            _config(train={"split": {"val": 0.5, "test": 0.5}}),
            r"^train.split: val 0.5 \+ test 0.5 must be below 1",
        ),
    ],
)
def test_run_checks_name_the_key(
    cfg: dict[str, Any], match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=match):
        check_run(validate(cfg))


def test_run_checks_accept_existing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("w.safetensors").write_bytes(b"")
    Path("ckpt").mkdir()
    Path("pre.pt").write_bytes(b"")
    check_run(validate(_config(modalities={"backend": "irn"}, irn={"weights": "w.safetensors"})))
    check_run(validate(_config(modalities={"backend": "irn-tf1"}, irn={"weights": "ckpt"})))
    check_run(validate(_config(train={"pretrained": "pre.pt"})))


def test_extract_cli_refuses_bad_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(tmp_path / "v.mp4"), "--out", "o", "--size", "100000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("unrender extract: error: frames.size: 100000 is greater than")
    assert len(err.strip().splitlines()) == 1


def test_every_shipped_config_validates() -> None:
    for path in sorted((REPO / "config").glob("*.yaml")):
        validate(yaml.safe_load(path.read_text()))


# --- through Snakemake, as a user runs it ------------------------------------------------


def _dry_run(workdir: Path, cfg: dict[str, Any]) -> subprocess.CompletedProcess:
    write_config(workdir, cfg)
    cmd = snakemake_command(workdir, "-n", "--cores", "1")
    return subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cfg", "line"),
    [
        (
            {"run": "m", "dataset": {"kind": "manifest"}},
            "config: dataset: 'manifest' is a required property",
        ),
        (
            {"run": "f", "dataset": {"kind": "folder"}},
            "config: dataset: 'root' is a required property",
        ),
        (
            {**tiny_synth_config("irn"), "modalities": {"backend": "irn"}},
            "config: irn.weights: None is not of type 'string'",
        ),
        ({**tiny_synth_config("f"), "shard_size": 2.0}, "config: shard_size: 2.0 is not of type"),
        (
            {**tiny_synth_config("s"), "train": {"split": {"val": 0.6, "test": 0.4}}},
            "config: train.split: val 0.6 + test 0.4 must be below 1",
        ),
        (
            {"run": "few", "dataset": {"kind": "synth"}, "synth": {"identities": 4}},
            "config: synth: val gets 1 of 4 identities, but each used split needs at least 2",
        ),
    ],
)
def test_workflow_refuses_bad_config_at_parse_time_in_one_line(
    tmp_path: Path, cfg: dict[str, Any], line: str
) -> None:
    assert refusal(_dry_run(tmp_path, cfg)).startswith(line)


@pytest.mark.slow
def test_a_configfile_is_not_merged_with_config_yaml(tmp_path: Path) -> None:
    # Without run, the user's file is incomplete: config/config.yaml's run: main must not fill it.
    cfg = tiny_synth_config("x")
    del cfg["run"]
    assert refusal(_dry_run(tmp_path, cfg)) == "config: 'run' is a required property"
    # A complete file runs on its own terms: no key of config/config.yaml leaks in.
    proc = _dry_run(tmp_path, tiny_synth_config("x"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results/x/" in proc.stdout and "results/main" not in proc.stdout


def _schema_keys(props: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> schema node of every leaf (an object without properties is a leaf)."""
    out: dict[str, Any] = {}
    for name, sub in props.items():
        if sub.get("type") == "object" and "properties" in sub:
            out.update(_schema_keys(sub["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = sub
    return out


def test_config_readme_lists_every_key_with_the_schema_default() -> None:
    rows = {}
    for line in (REPO / "config" / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    keys = _schema_keys(config.schema()["properties"])
    assert set(rows) == set(keys)
    for key, node in keys.items():
        if "default" in node:
            written = yaml.safe_load(rows[key].strip("`"))
            assert written == node["default"], (key, rows[key], node["default"])
        else:
            assert rows[key].startswith("required"), key
