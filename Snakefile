from snakemake.utils import min_version

min_version("9.0")


# A --configfile is complete on its own terms (README, "Configuration"): config/config.yaml
# is the config of a plain `snakemake` call only, never merged under a user's file.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/frames.smk"
include: "rules/modalities.smk"
include: "rules/train.smk"
include: "rules/cross.smk"
include: "rules/detect.smk"
include: "rules/evaluate.smk"
include: "rules/perturb.smk"
include: "rules/generate.smk"
include: "rules/provenance.smk"


rule all:
    default_target: True
    input:
        DATA_OUTPUTS,
        RESULT_FILES,
        ROBUSTNESS_FILES,
        PROVENANCE,


rule data:
    input:
        DATA_OUTPUTS,
