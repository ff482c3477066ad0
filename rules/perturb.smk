# Laundering robustness (evaluate.perturb): per perturbation, the test frames perturbed shard
# by shard, decomposed again by rule decompose (in PERTURBED/{perturbation}, a run-like
# folder), scored by every model in one job, and robustness.tsv with its figure; see
# src/unrender/perturb.py and src/unrender/evaluate/robustness.py.

# PERTURBATIONS, PERTURBED and ROBUSTNESS_FILES are in common.smk: the summary reads the table.


rule perturb_frames:
    input:
        shard=f"{OUT}/shards/{{shard}}.tsv",
        frames=f"{OUT}/frames/{{shard}}",
        splits=f"{OUT}/splits.tsv",
    output:
        shard=f"{PERTURBED}/{{perturbation}}/shards/{{shard}}.tsv",
        frames=directory(f"{PERTURBED}/{{perturbation}}/frames/{{shard}}"),
    log:
        f"{OUT}/logs/perturb_frames/{{perturbation}}/{{shard}}.log",
    benchmark:
        f"{OUT}/benchmarks/perturb_frames/{{perturbation}}/{{shard}}.tsv"
    container:
        config["containers"]["torch"]
    script:
        "../scripts/perturb_frames.py"


rule score_perturbed:
    input:
        shards=expand(
            f"{PERTURBED}/{{{{perturbation}}}}/shards/{{shard}}.tsv", shard=SHARDS
        ),
        frames=expand(
            f"{PERTURBED}/{{{{perturbation}}}}/frames/{{shard}}", shard=SHARDS
        ),
        modalities=expand(
            f"{PERTURBED}/{{{{perturbation}}}}/modalities/{{modality}}/{{shard}}",
            modality=MODALITIES,
            shard=SHARDS,
        ),
        weights=expand(f"{OUT}/models/{{model}}/model.safetensors", model=MODELS),
        metas=expand(f"{OUT}/models/{{model}}/meta.json", model=MODELS),
        # Fit on the clean val split.
        stacker=rules.evaluate.output.stacker,
        calibration=rules.lighting_consistency.output.calibration,
    output:
        predictions=directory(f"{PERTURBED}/{{perturbation}}/predictions"),
    log:
        f"{OUT}/logs/score_perturbed/{{perturbation}}.log",
    benchmark:
        f"{OUT}/benchmarks/score_perturbed/{{perturbation}}.tsv"
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
        "../scripts/score_perturbed.py"


rule robustness:
    input:
        clean=expand(f"{OUT}/predictions/{{model}}.tsv", model=SCORED),
        mean=rules.evaluate.output.mean,
        stacked=rules.evaluate.output.stacked,
        perturbed=expand(
            f"{PERTURBED}/{{perturbation}}/predictions", perturbation=PERTURBATIONS
        ),
        # The run's one split, with the manifest groups: the bootstrap's clusters.
        splits=f"{OUT}/splits.tsv",
    output:
        table=report(
            f"{OUT}/robustness.tsv",
            caption="../report/robustness.rst",
            category="Results",
            labels={"figure": "robustness table"},
        ),
        figure=report(
            f"{OUT}/robustness.png",
            caption="../report/robustness.rst",
            category="Results",
            labels={"figure": "robustness to laundering"},
        ),
    log:
        f"{OUT}/logs/robustness.log",
    benchmark:
        f"{OUT}/benchmarks/robustness.tsv"
    params:
        models=SCORED,
        perturbations=PERTURBATIONS,
        evaluate=SCORING,
        seed=config["seed"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/robustness.py"
