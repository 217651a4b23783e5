"""Figures of the code's layout: modules per package, largest modules, package cycles, import closure.

    .venv/bin/python -m bench.layout bot.web.webhook

Counts production modules of `bot`, `advisors` and `memory` (grimp's import graph, the one
import-linter checks), finds pairs of packages that import each other (a cycle), and imports the
given module in a fresh interpreter to list everything it loads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grimp

ROOTS = ("bot", "advisors", "memory")
ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"langgraph", "langchain_core", "langchain_openai", "openai", "tiktoken", "procrastinate", "fastapi"}


def _path(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def figures(module: str) -> dict[str, object]:
    graph = grimp.build_graph(*ROOTS)
    modules = sorted(m for m in graph.modules if m.split(".")[0] in ROOTS)
    lines = {m: len(_path(m).read_text().splitlines()) for m in modules}
    packages = sorted(m for m in modules if _path(m).name == "__init__.py")
    per_package = Counter(m.rsplit(".", 1)[0] for m in modules if _path(m).name != "__init__.py")
    cycles = [
        f"{a} <-> {b}"
        for a, b in itertools.combinations(packages, 2)
        if not (a.startswith(b + ".") or b.startswith(a + "."))
        and graph.chain_exists(a, b, as_packages=True)
        and graph.chain_exists(b, a, as_packages=True)
    ]
    probe = f"import sys; old = set(sys.modules); import {module}; print('\\n'.join(set(sys.modules) - old))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    ours = sorted(m for m in loaded if m.split(".")[0] in ROOTS)
    total = sum(lines.values())
    return {
        "modules_per_package": dict(sorted(per_package.items())),
        "production_lines": total,
        "largest_modules": sorted(lines.items(), key=lambda item: -item[1])[:5],
        "package_cycles": cycles,
        "closure_modules": len(loaded),
        "closure_our_modules": len(ours),
        "closure_heavy_packages": sorted({m.split(".")[0] for m in loaded} & HEAVY),
        "closure_ours": ours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "module", nargs="?", default="bot.web.webhook", help="the module whose imports to list"
    )
    print(json.dumps(figures(parser.parse_args().module), indent=1))


if __name__ == "__main__":
    main()
