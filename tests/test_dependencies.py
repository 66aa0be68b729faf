"""pyproject.toml and environment.yml carry the same dependencies (conda cannot run here)."""
import re
import tomllib

import yaml

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ
CONDA_ONLY = {"python", "quarto", "pip"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_dependency_lists_agree(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    pip = {CONDA_NAMES.get(n, n): spec for n, spec in map(_split, pip_reqs)}
    env = yaml.safe_load((repo / "environment.yml").read_text())
    conda, pip_section = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section += dep["pip"]
        else:
            name, spec = _split(dep)
            conda[name] = spec
    assert "conda-forge" in env["channels"]
    # packages conda-forge lacks come from PyPI through the pip section
    conda.update(dict(_split(r) for r in pip_section if r != "-e ."))
    assert {k: v for k, v in conda.items() if k not in CONDA_ONLY} == pip
    assert "quarto" in conda
    assert "-e ." in pip_section
    # both ask for the same Python
    assert conda["python"] == project["requires-python"]
