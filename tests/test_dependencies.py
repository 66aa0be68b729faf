"""pyproject.toml and environment.yml carry the same dependencies (conda cannot run here)."""
import re
import tomllib

import pytest
import yaml

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ
CONDA_ONLY = {"python", "quarto", "pip"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_dependency_lists_agree(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    # the runtime and test dependencies, by name and version bounds; the cluster extra is the SLURM plugin
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
    # conda-forge first, then bioconda (snakemake, its SLURM plugin), and nothing from the defaults channel
    assert env["channels"] == ["conda-forge", "bioconda", "nodefaults"]
    # packages conda-forge lacks come from PyPI through the pip section
    conda.update(dict(_split(r) for r in pip_section if r != "-e ."))
    assert {k: v for k, v in conda.items() if k not in CONDA_ONLY} == pip
    assert "quarto" in conda
    assert "-e ." in pip_section
    # both ask for the same Python
    assert conda["python"] == project["requires-python"]


@pytest.mark.slow
def test_schema_is_found_after_a_plain_install(repo, tmp_path):
    """A non-editable install (a wheel built from the tree, installed into a folder of its own) carries the
    config schema as package data: validating a config works from anywhere, without the repository."""
    import subprocess
    import sys

    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(repo)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    assert (target / "experiments" / "config.schema.yaml").exists()
    check = subprocess.run([sys.executable, "-c", "import experiments.config as c; print(c.SCHEMA_PATH); "
                            "print(c.validate_config({})['convergence']['steps'])"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120,
                           env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert check.returncode == 0, check.stderr[-2000:]
    where, steps = check.stdout.split()
    assert where.startswith(str(target)) and steps == "400"


# import name -> distribution name, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "yaml": "pyyaml", "IPython": "ipykernel", "hypothesis_jsonschema":
                "hypothesis-jsonschema", "torchvision": "torchvision"}
PROVIDED = {"experiments", "planted", "host_memory", "conftest", "measure",  # ours, or a plugin's
            "snakemake_interface_executor_plugins"}


def _imports(path) -> set[str]:
    import ast

    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_third_party_import_is_declared(repo):
    """scipy was imported (scipy.stats.bootstrap with rng=, scipy >= 1.15) without being declared: every
    module the package, the workflow, the benchmarks and the tests import is the standard library, ours, or a
    declared dependency (runtime, test or an optional extra)."""
    import sys

    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    declared = {_split(r)[0] for r in project["dependencies"]}
    declared |= {_split(r)[0] for reqs in project["optional-dependencies"].values() for r in reqs}
    files = [p for d in ("experiments", "workflow", "benchmarks", "tests") for p in (repo / d).rglob("*.py")]
    used = set().union(*map(_imports, files)) - set(sys.stdlib_module_names) - PROVIDED
    missing = {m for m in used if DISTRIBUTION.get(m, m).lower().replace("_", "-") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_citation_file_is_valid_cff_and_matches_the_package(repo):
    """CITATION.cff (GitHub's "Cite this repository"): the fields CFF 1.2.0 requires, and the package's
    version and licence."""
    import tomllib

    import yaml

    cff = yaml.safe_load((repo / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert cff[key], key
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"] and cff["license"] == project["license"]["text"]
