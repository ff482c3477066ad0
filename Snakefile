from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/frames.smk"
include: "rules/modalities.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/generate.smk"
include: "rules/provenance.smk"


rule all:
    default_target: True
    input:
        DATA_OUTPUTS,
        RESULT_FILES,
        PROVENANCE,


rule data:
    input:
        DATA_OUTPUTS,
