"""The run's configuration: one schema (``schema.yaml`` beside this module) holds every key's
type, range and default; the workflow, the options classes and the CLI all read it from here.

:func:`validate` fills the defaults into a whole config and raises :class:`ConfigError` with
one line naming the key; :func:`section` does the same for one section (``frames``, ``train``
...), which is how the options classes are built; :func:`check_run` adds the checks a schema
cannot express (files that must exist, fractions that must leave a training split).
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (cached; treat it as read-only)."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _is_integer(checker: Any, instance: object) -> bool:
    # JSON Schema counts 2.0 as an integer; Python code downstream does not (range(), cv2).
    return isinstance(instance, int) and not isinstance(instance, bool)


def _fill_defaults(validator: Any, properties: Mapping, instance: Any, schema: Mapping) -> Iterator:
    """The ``properties`` keyword, first setting each absent property that has a default."""
    if validator.is_type(instance, "object"):
        for name, sub in properties.items():
            if "default" in sub and name not in instance:
                instance[name] = copy.deepcopy(sub["default"])
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](
        validator, properties, instance, schema
    )


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"properties": _fill_defaults},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _one_line(error: jsonschema.ValidationError, root: Mapping[str, Any], prefix: str) -> str:
    """The dotted key, what is wrong with it, and why when a rule of an ``if/then`` says so."""
    where = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(error.path))
    message = error.message
    if error.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown key(s)")
    elif error.validator == "type" and error.validator_value == "integer":
        message += " (write a whole number, without a decimal point)"
    elif error.validator == "enum" and len(error.validator_value) > 8:
        close = difflib.get_close_matches(str(error.instance), map(str, error.validator_value))
        message = f"{error.instance!r} is not one of the {len(error.validator_value)} values "
        message += f"of {SCHEMA_PATH.name}"
        if close:
            message += f"; did you mean {', '.join(close)}?"
    why = ""
    steps = list(error.schema_path)
    if "then" in steps:
        # A key required by another: the schema node holding the if/then describes the rule.
        holder: Any = root
        for step in steps[: steps.index("then")]:
            holder = holder[step]
        why = str(holder.get("description", "")).strip()
    line = f"{where}: {message}" if where else message
    return line + (f" ({why})" if why else "")


def _validate(instance: dict[str, Any], subschema: Mapping[str, Any], prefix: str) -> None:
    """Fill defaults into ``instance``; raise :class:`ConfigError` for its first error."""
    errors = sorted(
        _Validator(subschema).iter_errors(instance),
        key=lambda e: ([str(p) for p in e.path], e.message),
    )
    if errors:
        raise ConfigError(_one_line(errors[0], subschema, prefix))


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Validate a whole config in place, filling every default; return it.

    Raises :class:`ConfigError` naming the first wrong key (e.g. ``frames.size: 32.0 is not of
    type 'integer' ...``).
    """
    _validate(config, schema(), "")
    return config


def section(name: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The section ``name`` of a config: a copy of ``values`` validated and completed with the
    schema's defaults.

    ``section("frames")`` gives the frame stage's defaults; unknown keys, wrong types and
    out-of-range values raise :class:`ConfigError` naming ``name.key``.
    """
    out = copy.deepcopy(dict(values or {}))
    _validate(out, schema()["properties"][name], name)
    return out


def default(name: str, key: str) -> Any:
    """The schema default of ``name.key``, e.g. ``default("frames", "size")`` -> 256."""
    return section(name)[key]


def backend_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options of the configured modality backend (``unrender.modalities.get_backend``)
    from a validated config; ``modalities.batch_size`` is the irn backend's batch too."""
    if config["modalities"]["backend"] == "irn":
        irn = config["irn"]
        return {
            "weights": irn["weights"],
            "mode": irn["mode"],
            "device": irn["device"],
            "precision": irn["precision"],
            "batch_size": config["modalities"]["batch_size"],
        }
    return {}


#: Where the ``containers/irn-tf1`` image installs its shard runner (its Dockerfile and .def).
IRN_TF1_RUNNER = "/opt/irn-tf1/run_shard.py"


def decompose_options(config: Mapping[str, Any]) -> list[str]:
    """The options of :func:`decompose_argv` that come from the config alone: the backend, its
    options and the batch size (the rule's params, so that changing one reruns the shards)."""
    backend = config["modalities"]["backend"]
    irn = config["irn"]
    if backend == "irn-tf1":
        options = ["--checkpoint", irn["weights"], "--mode", irn["mode"]]
    else:
        options = ["--backend", backend]
        if backend == "irn":
            options += [
                f"--irn-{key}={irn[key]}" for key in ("weights", "mode", "device", "precision")
            ]
    if config["modalities"]["batch_size"] is not None:
        options += ["--batch-size", str(config["modalities"]["batch_size"])]
    return options


def decompose_argv(
    config: Mapping[str, Any],
    shard_tsv: str | os.PathLike[str],
    frames: str | os.PathLike[str],
    out: str | os.PathLike[str],
    threads: int,
    python: str,
) -> list[str]:
    """The command that decomposes one shard with the configured backend, as the workflow's
    ``decompose`` job runs it: ``python -m unrender decompose --shard`` (classical, irn), or
    for irn-tf1 upstream's code through :data:`IRN_TF1_RUNNER` in its image.

    shard_tsv: ``shards/{shard}.tsv`` (the shard id is its stem); frames: the shard's frame
    folder; out: the modalities root; python: the interpreter that has unrender.
    """
    if config["modalities"]["backend"] == "irn-tf1":
        program = ["python3", IRN_TF1_RUNNER, "--shard", Path(shard_tsv).stem]
    else:
        program = [python, "-m", "unrender", "decompose", "--shard", str(shard_tsv)]
    where = ["--frames", str(frames), "--out", str(out), "--threads", str(threads)]
    return [*program, *decompose_options(config), *where]


def check_run(config: Mapping[str, Any]) -> None:
    """What a validated config needs beyond its schema, checked before any job runs: the
    files it names exist and the split fractions leave a training split.

    Relative paths are relative to the working directory (the workflow's). Raises
    :class:`ConfigError` naming the key.
    """
    backend = config["modalities"]["backend"]
    weights = config["irn"]["weights"]
    if backend == "irn" and not Path(weights).is_file():
        raise ConfigError(
            f"irn.weights: {weights!r} is not a file (modalities.backend irn needs the "
            ".safetensors that `unrender irn convert` writes)"
        )
    if backend == "irn-tf1" and not (Path(weights).is_dir() or Path(f"{weights}.index").is_file()):
        raise ConfigError(
            f"irn.weights: {weights!r} is neither a TF1 checkpoint folder nor a checkpoint "
            "prefix with a .index file (modalities.backend irn-tf1)"
        )
    pretrained = config["train"]["pretrained"]
    if pretrained not in ("none", "imagenet") and not Path(pretrained).is_file():
        raise ConfigError(
            f"train.pretrained: {pretrained!r} is neither none, imagenet nor an existing "
            "weights file"
        )
    split = config["train"]["split"]
    if split["val"] + split["test"] >= 1:
        raise ConfigError(
            f"train.split: val {split['val']} + test {split['test']} must be below 1, "
            "or no group is left to train on"
        )
