"""Config validation, the run's sample count and shards, and input functions."""

import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from unrender import manifest, perturb
from unrender.config import (
    ConfigError,
    check_run,
    decompose_argv,
    decompose_options,
    validate,
)
from unrender.config import backend_options as _backend_options
from unrender.devices import names_cuda
from unrender.modalities import MODALITIES
from unrender.train.inputs import (
    DETECTOR_INPUTS,
    MODEL_INPUTS,
    PACK_PARTS,
    PICTURE_MODELS,
    pack_parts,
)


def stop(message):
    """End the workflow before any job with ``message`` as its one line on stderr.

    A WorkflowError raised while the Snakefile is read would print a header naming the .smk
    file and line and then the Snakefile's stack; what a user must fix is the message alone.
    """
    raise SystemExit(f"unrender workflow: error: {message}")


# One line naming the key, before any job runs (validate fills the schema's defaults).
try:
    check_run(validate(config))
except ConfigError as e:
    stop(f"config: {e}")

# Jobs inherit this: OpenMP threads that finish a parallel region sleep instead of spinning.
# Spinning threads take the cores from the job's other threads and from the other jobs on a
# busy machine: an rgb training step cost 2.5-6 CPU s spinning vs 0.8 passive at load 8 (same
# results bit for bit, same thread count; BENCHMARKS.md, "Demo"). A user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

OUT = f"results/{config['run']}"
MODELS = list(MODEL_INPUTS)
#: What the evaluation reads predictions of: the trained models and the training-free detectors.
SCORED = [*MODELS, *DETECTOR_INPUTS]
#: The evaluate options that change a score, which is all a scoring rule's params hold: adding a
#: cross target or a perturbation (evaluate.cross, evaluate.perturb) then reruns only the rules
#: that read them, not the run's own evaluation.
SCORING = {k: config["evaluate"][k] for k in ("bootstrap", "unit", "min_per_class")}
#: What the shortcut audit and summary.md read: the scoring options and the warning threshold.
AUDIT = {**SCORING, "shortcut_warning_auc": config["evaluate"]["shortcut_warning_auc"]}
#: evaluate.perturb's perturbations (rules/perturb.smk) and the folder of their test splits.
PERTURBATIONS = [p.name for p in perturb.from_config(config["evaluate"]["perturb"])]
PERTURBED = f"{OUT}/perturb"
#: robustness.tsv when evaluate.perturb names a perturbation: the summary prints it.
ROBUSTNESS_TABLE = [f"{OUT}/robustness.tsv"] if PERTURBATIONS else []
#: The robustness files `all` asks for, the table and its figure.
ROBUSTNESS_FILES = [*ROBUSTNESS_TABLE, f"{OUT}/robustness.png"] if PERTURBATIONS else []


wildcard_constraints:
    shard=r"s\d{4}\d*",
    modality="|".join(MODALITIES),
    perturbation=perturb.NAME_PATTERN,
    # Where decompose runs: the run folder, or a perturbed copy of its test split.
    root=re.escape(OUT) + rf"(?:/perturb/(?:{perturb.NAME_PATTERN}))?",


def synth_options():
    """The synth section with the run's seed and frame count, for SynthConfig.from_mapping."""
    return {
        "seed": config["seed"],
        "frames_per_video": config["frames"]["per_video"],
        **config["synth"],
    }


#: Dataset kinds whose manifest an adapter of unrender.datasets writes.
ADAPTED = ("ffpp", "dfdc", "celebdf", "folder")

# Each kind's manifest has its own path and its own rule (synth, adapt_dataset,
# image_manifest); every rule exists for every kind, and raw_manifest() picks the one the
# run needs, so no two rules can claim one file.
SYNTH_MANIFEST = f"{OUT}/dataset/manifest.tsv"
ADAPTED_MANIFEST = f"{OUT}/adapted/manifest.tsv"
#: The image branch's folder: FFHQ rows, StyleGAN2-ADA fakes and their manifest.
IMAGE_DATASET = f"{OUT}/image_dataset"


def raw_manifest():
    """The manifest the run starts from: written by the rule of its kind, or the user's."""
    kind = config["dataset"]["kind"]
    if kind == "synth":
        return SYNTH_MANIFEST
    if kind in ADAPTED:
        return ADAPTED_MANIFEST
    if kind == "ffhq-stylegan":
        return f"{IMAGE_DATASET}/manifest.tsv"
    return config["dataset"]["manifest"]


def dataset_root(wildcards=None):
    """The folder manifest paths are relative to: dataset.root, else the manifest's folder."""
    kind = config["dataset"]["kind"]
    if kind in ADAPTED:
        return config["dataset"]["root"]
    if kind == "ffhq-stylegan":
        return "."  # rows of the image branch are relative to the working directory
    return config["dataset"].get("root") or str(Path(raw_manifest()).parent)


def adapted_manifest():
    """Rows an adapter makes of the dataset folder (it only lists files: cheap at parse time)."""
    from unrender.datasets import build_manifest

    dataset = config["dataset"]  # the schema requires dataset.root for these kinds
    try:
        return build_manifest(dataset["kind"], dataset["root"], **dataset["options"])
    except (OSError, ValueError) as e:  # a dataset laid out otherwise: its one line
        stop(f"dataset.kind {dataset['kind']}, root {dataset['root']}: {e}")


def stylegan_network(wildcards):
    """The network pickle; if missing, an error saying what to download and where to put it."""
    from unrender.generate.network import check_network_file

    try:
        return str(check_network_file(config["stylegan"]["network"]))
    except FileNotFoundError as e:
        raise WorkflowError(str(e)) from e


def n_samples():
    """Row count of the manifest, known before any job runs, so shards need no checkpoint."""
    if config["dataset"]["kind"] == "synth":
        from unrender.synth import plan

        from unrender.synth import SynthConfig

        # Checks the config can make every split the run needs: one line if not.
        try:
            synth = SynthConfig.from_mapping(synth_options())
        except ValueError as e:
            stop(f"config: {e}")
        return len(plan(synth))
    if config["dataset"]["kind"] in ADAPTED:
        return len(adapted_manifest())
    if config["dataset"]["kind"] == "ffhq-stylegan":
        from unrender.generate.seeds import parse_seeds

        from unrender.datasets import ffhq

        # Listing the FFHQ folder is cheap; with ffhq.missing: warn it may hold fewer than
        # ffhq.count images, and the shards must cover the rows the manifest will have.
        try:
            reals = ffhq.build(
                config["ffhq"]["root"],
                count=config["ffhq"]["count"],
                missing=config["ffhq"]["missing"],
                dataset_root=".",
                allow_outside_root=config["dataset"]["allow_outside_root"],
            )
        except (FileNotFoundError, ValueError) as e:
            stop(str(e))
        return len(reals) + len(parse_seeds(config["stylegan"]["seeds"]))
    path = raw_manifest()
    if not Path(path).is_file():
        stop(
            f"dataset.manifest {path!r} does not exist; write a manifest TSV "
            "(see README, 'Running on your own data') or use --configfile config/demo.yaml"
        )
    # A malformed manifest fails now, in one line naming the file, rather than mid-run.
    try:
        return manifest.count_rows(path)
    except ValueError as e:
        stop(str(e))


N_SAMPLES = n_samples()
#: Samples per shard: config's shard_size, grown past shard_size x max_shards samples so that
#: the plan of every snakemake call stays small (unrender.manifest.shard_size_for).
SHARD_SIZE = manifest.shard_size_for(
    N_SAMPLES, config["shard_size"], config["max_shards"]
)
SHARDS = manifest.shard_ids(N_SAMPLES, SHARD_SIZE)

#: Everything up to the modalities: frames and decompositions of every accepted sample,
#: and the rejections of every stage.
DATA_OUTPUTS = [
    f"{OUT}/rejected.tsv",
    f"{OUT}/data_summary.tsv",
    *expand(
        f"{OUT}/modalities/{{modality}}/{{shard}}", modality=MODALITIES, shard=SHARDS
    ),
]


def backend_options():
    """Keyword options of the configured modality backend."""
    return _backend_options(config)


def job_python():
    """The interpreter of a job's ``python -m unrender``: the image's ``python`` in a container,
    else the one running Snakemake, which has unrender (this file imports it) whether or not
    its environment is on PATH."""
    if DeploymentMethod.APPTAINER in workflow.deployment_settings.deployment_method:
        return "python"
    return sys.executable


def decompose_command(wildcards, input, output, threads):
    """The decompose job's command line (unrender.config.decompose_argv)."""
    argv = decompose_argv(
        config,
        shard_tsv=input.shard,
        frames=input.frames,
        out=Path(output.modalities[0]).parents[1],
        threads=threads,
        python=job_python(),
    )
    return shlex.join(argv)


def gpu_resources(device):
    """A job's GPU request for its ``device`` setting: one GPU when it names CUDA (``gpu``,
    which the slurm executor turns into ``sbatch --gpus=1``), else none. ``auto`` asks for
    none (README, "GPUs"): the submit host cannot see what a compute node has."""
    return {"gpu": 1} if names_cuda(device) else {}


def apptainer_dir():
    """Snakemake's folder of pulled images when jobs run in containers (--sdm apptainer),
    else None. Only valid once jobs run (the persistence layer exists then)."""
    if DeploymentMethod.APPTAINER not in workflow.deployment_settings.deployment_method:
        return None
    return workflow.persistence.container_img_path


def pack_sources(wildcards):
    """What pack {part}/{shard} decodes: the shard's frames, or also its modalities."""
    sources = {
        "shard": f"{OUT}/shards/{wildcards.shard}.tsv",
        "frames": f"{OUT}/frames/{wildcards.shard}",
    }
    if wildcards.part == "modalities":
        sources["modalities"] = [
            f"{OUT}/modalities/{m}/{wildcards.shard}" for m in PACK_PARTS["modalities"]
        ]
    return sources


def model_packs(wildcards):
    """The packs model {model} reads, shard by shard: rgb needs the frames only."""
    parts = pack_parts(MODEL_INPUTS[wildcards.model])
    return [f"{OUT}/packs/{part}/{shard}" for shard in SHARDS for part in parts]
