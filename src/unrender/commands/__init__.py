"""Subcommands of the ``unrender`` CLI (see :mod:`unrender.cli`), and their shared checks."""

from __future__ import annotations

from pathlib import Path


def output_folder(path: Path, flag: str = "--out") -> Path:
    """``path`` if it is a folder or can become one; ValueError naming ``flag`` otherwise."""
    for step in (path, *path.parents):
        if step.exists():
            if not step.is_dir():
                raise ValueError(f"{flag} {path}: {step} is a file, not a folder")
            return path
    return path


def output_file(path: Path, flag: str = "--out") -> Path:
    """``path`` if a file can be written there; ValueError naming ``flag`` for a folder."""
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give the path of the file to write")
    output_folder(path.parent, flag)
    return path
