"""No module imports from a layer above its own (docs/architecture.md lists the layers)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hybrid_retrieval"


def documented_layers() -> dict[str, int]:
    """``{top-level name: layer}`` from the table in docs/architecture.md."""
    layers: dict[str, int] = {}
    for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"\|\s*(\d+) \w+\s*\|([^|]+)\|", line)
        if row:
            for name in re.findall(r"`([a-z_]+)/?`", row.group(2)):
                layers[name] = int(row.group(1))
    return layers


def top_name(module: str) -> str | None:
    """``hybrid_retrieval.job.train`` -> ``job``; None outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "hybrid_retrieval" and len(parts) > 1 else None


def imported(path: Path) -> set[str]:
    """Every ``hybrid_retrieval.*`` module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "hybrid_retrieval":
                found.update(f"hybrid_retrieval.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("hybrid_retrieval.")}


def test_every_module_has_a_documented_layer():
    layers = documented_layers()
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert tops - set(layers) == set(), "add these to the layer table of docs/architecture.md"


def test_no_module_imports_upward():
    layers = documented_layers()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel == Path("__init__.py"):
            continue  # the package entry registers the schemas; it is outside the layers
        own = layers[rel.parts[0].removesuffix(".py")]
        for module in imported(path):
            top = top_name(module)
            if top is not None and layers[top] > own:
                upward.append(f"{rel} imports {module} (layer {layers[top]} > {own})")
    assert upward == []
