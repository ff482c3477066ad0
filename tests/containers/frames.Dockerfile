# Slim image of the frame-extraction stage, built offline by tests/containers/test_frames_container.py.
# BASE is a debootstrap'd Debian 12 with python3 and python3-venv (docker import), so there is
# no registry pull; wheels/ holds the stage's dependencies and the unrender wheel, downloaded
# on the host (pip download), so RUN needs no network either.
ARG BASE=unrender-test/debian-python:bookworm
FROM ${BASE}
COPY wheels/ /tmp/wheels/
COPY requirements.txt /tmp/requirements.txt
# A venv: Debian's pip refuses system installs (PEP 668), and it provides the `python`
# command that Snakemake's script: directive calls.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps /tmp/wheels/unrender-*.whl \
 && rm -rf /tmp/wheels /tmp/requirements.txt \
 && /opt/venv/bin/python -c "import av, cv2, numpy, unrender.pipeline"
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8
