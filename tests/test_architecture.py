"""The package's plan, kept: every module imports, data flows one way between concerns, no import circle."""
import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import experiments

PLUMBING = {"config", "sweep", "columns", "storage", "provenance", "registry"}
# concern -> the concerns it may import (experiments/__init__.py says the same in words)
ALLOWED = {
    "plumbing": {"plumbing"},
    "lecture": {"plumbing", "lecture"},
    "analysis": {"plumbing", "analysis"},
    "convergence": {"plumbing", "analysis", "convergence"},
    "overflow": {"plumbing", "lecture", "analysis", "convergence", "overflow"},
    # the report reads and formats tables the workflow wrote: nothing that trains or probes (no torch at render)
    "report": {"plumbing", "analysis", "report"},
}
ROOT = Path(experiments.__file__).parent


def modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(ROOT)], "experiments."))


def concern(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 3 or (len(parts) == 2 and parts[1] in ALLOWED):
        return parts[1]                                   # experiments.<subpackage>[.<module>]
    if parts[-1] in PLUMBING or module == "experiments":
        return "plumbing"
    if parts[-1] == "lecture":
        return "lecture"
    raise AssertionError(f"{module} belongs to no concern: add it to PLUMBING or a subpackage")


def imports_of(module: str) -> set[str]:
    """Every experiments module ``module`` imports, at any depth of its code (relative imports resolved)."""
    path = ROOT.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("experiments"):
                continue
            for alias in node.names:                      # "from experiments.x import y": y may be a module
                full = f"{base}.{alias.name}"
                out.add(full if full in MODULES else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("experiments")}
    return out - {module}


MODULES = set(modules()) | {"experiments"}


@pytest.mark.parametrize("module", modules())
def test_every_module_imports(module):
    importlib.import_module(module)


def violations(imports: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} ({concern(m)}) imports {t} ({concern(t)})"
                  for m, targets in imports.items() for t in targets if concern(t) not in ALLOWED[concern(m)])


def test_imports_flow_one_way_between_concerns():
    wrong = violations({m: imports_of(m) for m in MODULES})
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = {m: {t for t in imports_of(m) if t in MODULES and not m.startswith(t + ".") and t != "experiments"}
             for m in MODULES}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [m, t]))
            if t not in state:
                visit(t, path + [m])
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_the_check_catches_a_wrong_direction():
    """Not vacuous: a convergence module importing the report, or plumbing importing the engine, is refused;
    and the imports are read as written (the probe uses the loss registry, never the thresholds)."""
    assert violations({"experiments.convergence.engine": {"experiments.report.figures"}})
    assert violations({"experiments.config": {"experiments.convergence.engine"}})
    assert violations({"experiments.analysis.claims": {"experiments.convergence.losses"}})
    assert not violations({"experiments.overflow.amp": {"experiments.convergence.training"}})
    assert violations({"experiments.report.findings": {"experiments.convergence.losses"}})
    assert violations({"experiments.report.figures": {"experiments.overflow.probe"}})
    assert "experiments.convergence.losses" in imports_of("experiments.overflow.probe")
    assert "experiments.overflow.thresholds" not in imports_of("experiments.overflow.probe")


def test_plumbing_and_analysis_are_torch_free():
    """The Snakefile imports config and sweep while building the DAG, and the analysis (and its planted-truth
    tests) never trains: no torch there."""
    analysis = ", ".join(m for m in modules() if m.startswith("experiments.analysis"))
    code = ("import sys, experiments.config, experiments.sweep, experiments.columns, experiments.storage, "
            f"{analysis}; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
