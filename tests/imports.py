"""What a module imports at start-up, read from the sources: how the tests keep light jobs
light (every Snakemake job is a new process, so its imports are its start-up time)."""

from __future__ import annotations

import ast
from pathlib import Path

import unrender


def module_level_imports(module: str) -> set[str]:
    """Top-level packages that importing ``module`` imports, following the ``unrender``
    modules it imports at module level (imports inside functions are lazy: not followed).
    Reads the sources only, so it imports nothing and takes milliseconds."""
    root = Path(unrender.__path__[0]).parent

    def source(name: str) -> Path | None:
        base = root.joinpath(*name.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None  # a name inside a module (from unrender.x import name)

    seen: set[str] = set()
    outside: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = source(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        # A package's __init__ runs before any of its modules.
        todo += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for imported in names:
                top = imported.split(".")[0]
                if top == "unrender":
                    todo.append(imported)
                elif top != "__future__":
                    outside.add(top)
    return outside
