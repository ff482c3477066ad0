# Cross-dataset evaluation (evaluate.cross): the run's models scored on other runs' frames and
# modalities, one scoring job per target and one job for cross.tsv; see
# src/unrender/evaluate/cross.py for the protocol.

import re

from unrender.evaluate.targets import check_targets, target_inputs

CROSS_TARGETS = config["evaluate"]["cross"]
# Checked when the workflow starts, in one line naming the target and the command that makes
# its data (listing a few folders is cheap): a target is scored as it is, never made here.
try:
    check_targets(config["run"], CROSS_TARGETS)
    #: target -> its shard TSVs, frame and modality folders (unrender.evaluate.targets).
    CROSS_INPUTS = {t: target_inputs("results", t) for t in CROSS_TARGETS}
except ValueError as e:
    stop(f"config: {e}")

#: cross.tsv when the config names targets; `rule all` and the summary ask for it.
CROSS_FILES = [f"{OUT}/cross.tsv"] if CROSS_TARGETS else []


rule cross_predict:
    input:
        unpack(lambda wildcards: CROSS_INPUTS[wildcards.target]),
        weights=expand(f"{OUT}/models/{{model}}/model.safetensors", model=MODELS),
        stacker=f"{OUT}/models/ensemble_stacked/stacker.json",
        calibration=f"{OUT}/models/lighting_consistency/calibration.json",
    output:
        # {model}.tsv per model of metrics.tsv, trained ones and post-hoc ensembles.
        predictions=directory(f"{OUT}/cross/{{target}}"),
    log:
        f"{OUT}/logs/cross_predict/{{target}}.log",
    benchmark:
        f"{OUT}/benchmarks/cross_predict/{{target}}.tsv"
    wildcard_constraints:
        target="|".join(map(re.escape, CROSS_TARGETS)) or "$^",
    params:
        models=MODELS,
        device=config["train"]["device"],
        batch_size=config["train"]["batch_size"],
    threads: 2
    resources:
        **gpu_resources(config["train"]["device"]),
    container:
        config["containers"]["torch"]
    script:
        "../scripts/cross_predict.py"


rule cross:
    input:
        predictions=expand(f"{OUT}/cross/{{target}}", target=CROSS_TARGETS),
        # The targets' accepted samples with their manifest groups, the bootstrap's clusters.
        shards=[s for inputs in CROSS_INPUTS.values() for s in inputs["shards"]],
    output:
        cross=report(
            f"{OUT}/cross.tsv",
            caption="../report/cross.rst",
            category="Results",
            labels={"figure": "cross-dataset"},
        ),
    log:
        f"{OUT}/logs/cross.log",
    benchmark:
        f"{OUT}/benchmarks/cross.tsv"
    params:
        targets=CROSS_TARGETS,
        evaluate=SCORING,
        seed=config["seed"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/cross.py"
