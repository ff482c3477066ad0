# Test-split metrics with cluster (group) bootstrap CIs, DeLong and Holm, the ensembles vs RGB, ROC, summary.md and the
# figures of the Snakemake report; see src/unrender/evaluate/ and src/unrender/report/.


rule evaluate:
    input:
        predictions=expand(f"{OUT}/predictions/{{model}}.tsv", model=SCORED),
        # The run's one split, with the manifest groups: the bootstrap's clusters.
        splits=f"{OUT}/splits.tsv",
    output:
        metrics=report(
            f"{OUT}/metrics.tsv",
            caption="../report/metrics.rst",
            category="Results",
            labels={"figure": "metrics"},
        ),
        comparison=report(
            f"{OUT}/comparison.tsv",
            caption="../report/comparison.rst",
            category="Results",
            labels={"figure": "ensembles vs RGB"},
        ),
        roc=report(
            f"{OUT}/roc.png",
            caption="../report/roc.rst",
            category="Results",
            labels={"figure": "ROC curves"},
        ),
        mean=f"{OUT}/predictions/ensemble_mean.tsv",
        stacked=f"{OUT}/predictions/ensemble_stacked.tsv",
        stacker=f"{OUT}/models/ensemble_stacked/stacker.json",
    log:
        f"{OUT}/logs/evaluate.log",
    benchmark:
        f"{OUT}/benchmarks/evaluate.tsv"
    params:
        models=SCORED,
        evaluate=SCORING,
        seed=config["seed"],
    threads: 1
    container:
        config["containers"]["torch"]
    script:
        "../scripts/evaluate.py"


rule shortcuts:
    input:
        # Which samples are val and test, and their groups; the shards give their files.
        splits=f"{OUT}/splits.tsv",
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
    output:
        shortcuts=report(
            f"{OUT}/shortcuts.tsv",
            caption="../report/shortcuts.rst",
            category="Results",
            labels={"figure": "shortcut audit"},
        ),
    log:
        f"{OUT}/logs/shortcuts.log",
    params:
        root=dataset_root(),
        evaluate=AUDIT,
        seed=config["seed"],
    container:
        config["containers"]["torch"]
    script:
        "../scripts/shortcuts.py"


rule summary:
    input:
        metrics=f"{OUT}/metrics.tsv",
        comparison=f"{OUT}/comparison.tsv",
        shortcuts=f"{OUT}/shortcuts.tsv",
        cross=CROSS_FILES,
        robustness=ROBUSTNESS_TABLE,
        metas=expand(f"{OUT}/models/{{model}}/meta.json", model=MODELS),
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
    output:
        summary=report(
            f"{OUT}/summary.md",
            caption="../report/summary.rst",
            category="Results",
            labels={"figure": "summary.md"},
        ),
    log:
        f"{OUT}/logs/summary.log",
    benchmark:
        f"{OUT}/benchmarks/summary.tsv"
    params:
        run=config["run"],
        models=MODELS,
        evaluate=AUDIT,
        dataset=config["dataset"],
        # What the synthetic generator plants is stated with its parameters.
        synth=synth_options() if config["dataset"]["kind"] == "synth" else None,
    container:
        config["containers"]["torch"]
    script:
        "../scripts/summary.py"


rule modalities_example:
    input:
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
        frames=expand(f"{OUT}/frames/{{shard}}", shard=SHARDS),
        modalities=expand(
            f"{OUT}/modalities/{{modality}}/{{shard}}",
            modality=MODALITIES,
            shard=SHARDS,
        ),
    output:
        montage=report(
            f"{OUT}/report/modalities_example.png",
            caption="../report/modalities.rst",
            category="Data",
            labels={"figure": "one frame, five modalities"},
        ),
    log:
        f"{OUT}/logs/modalities_example.log",
    benchmark:
        f"{OUT}/benchmarks/modalities_example.tsv"
    params:
        # The run folder: shards/ is one of its children.
        run_dir=lambda wildcards, input: str(Path(input.shards[0]).parents[1]),
    container:
        config["containers"]["torch"]
    script:
        "../scripts/modalities_example.py"


rule saliency:
    input:
        models=expand(f"{OUT}/models/{{model}}/model.safetensors", model=PICTURE_MODELS),
        # Which frames are test frames, and the rgb model's P(fake) printed beside them.
        predictions=f"{OUT}/predictions/rgb.tsv",
        shards=expand(f"{OUT}/shards/{{shard}}.tsv", shard=SHARDS),
        frames=expand(f"{OUT}/frames/{{shard}}", shard=SHARDS),
        modalities=expand(
            f"{OUT}/modalities/{{modality}}/{{shard}}",
            modality=MODALITIES,
            shard=SHARDS,
        ),
    output:
        figure=report(
            f"{OUT}/report/saliency.png",
            caption="../report/saliency.rst",
            category="Results",
            labels={"figure": "Grad-CAM saliency"},
        ),
    log:
        f"{OUT}/logs/saliency.log",
    benchmark:
        f"{OUT}/benchmarks/saliency.tsv"
    params:
        run_dir=lambda wildcards, input: str(Path(input.shards[0]).parents[1]),
        models=PICTURE_MODELS,
    threads: 1
    container:
        config["containers"]["torch"]
    script:
        "../scripts/saliency.py"


#: What the study's answer consists of; the Snakefile's `rule all` asks for these.
RESULT_FILES = [
    f"{OUT}/summary.md",
    f"{OUT}/metrics.tsv",
    f"{OUT}/comparison.tsv",
    f"{OUT}/shortcuts.tsv",
    f"{OUT}/roc.png",
    f"{OUT}/report/modalities_example.png",
    *CROSS_FILES,
    f"{OUT}/report/saliency.png",
    *expand(f"{OUT}/models/{{model}}/model.safetensors", model=MODELS),
]


rule all_results:
    input:
        RESULT_FILES,
