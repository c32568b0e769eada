"""What the kit installs: grading needs no Jupyter, and the Gradescope image resolves no CUDA and no Jupyter.

The resolution tests ask pip (``--dry-run --report``) what the autograder's install would bring, with this
machine's pip configuration ignored (local wheel folders and constraints would change the answer). PyPI is
reachable wherever the tests run; PyTorch's own index may not be, so everything but torch is resolved from
PyPI alone, and the full install, with setup.sh's indexes, only where PyTorch's index answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.export.gradescope import PYPI_INDEX, PYTORCH_CPU_INDEX, autograder_install_arguments

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# Modules only the nbgrader extra brings: with all of them unimportable, grading must still work.
JUPYTER_MODULES = ("nbgrader", "notebook", "IPython", "ipykernel", "ipywidgets", "nbconvert", "nbclient", "zmq")
# nbformat's own dependency: Jupyter's paths and configuration helpers, no server, kernel or notebook; the kit
# never imports it (reading a notebook does not).
ALLOWED_JUPYTER_PACKAGES = {"jupyter-core"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_grading_dependencies_hold_no_jupyter_and_the_extra_holds_nbgrader() -> None:
    core = {_normalised(_name(requirement)) for requirement in PYPROJECT["project"]["dependencies"]}
    assert not {name for name in core if name.startswith(("jupyter", "nbgrader", "notebook", "ipykernel"))}
    assert "nbformat" in core  # notebook hand-ins are graded everywhere, Gradescope included
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert [_name(requirement) for requirement in extras["nbgrader"]] == ["nbgrader"]
    # make env, make test and CI install .[dev]: the nbgrader course's tests need the real nbgrader.
    assert "coursekit[nbgrader]" in extras["dev"]


_BLOCKER = """\
import sys

BLOCKED = {blocked!r}


class _Unimportable:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in BLOCKED or top.startswith("jupyter"):
            raise ModuleNotFoundError(f"No module named {{name!r}} (made unimportable by the test)", name=name)
        return None


sys.meta_path.insert(0, _Unimportable())
"""


def test_grading_works_with_jupyter_and_nbgrader_unimportable(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(_BLOCKER.format(blocked=JUPYTER_MODULES))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    python = [sys.executable, "-m", "coursekit"]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*python, *arguments], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
        )

    probe = subprocess.run(
        [sys.executable, "-c", "import nbgrader"], env=env, capture_output=True, text=True, check=False
    )
    assert "made unimportable by the test" in probe.stderr
    assert run("--help").returncode == 0
    # A folder of .py files, a zip and a notebook: the sample class's correct hand-ins.
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copytree(REPO / "examples" / "submissions" / "alice", submissions / "alice")
    for name in ("bob.zip", "carol.ipynb"):
        shutil.copy2(REPO / "examples" / "submissions" / name, submissions / name)
    graded = run("grade", str(submissions), "--out", str(tmp_path / "out"), "--course-dir", str(REPO))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    lines = (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == ["alice", "bob", "carol"]
    assert all(line.split(",")[4] == "100" for line in lines), lines


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=15):
            return True
    except OSError:
        return False


def _resolve(arguments: list[str], tmp_path: Path) -> dict[str, str]:
    """{package: version} that `pip install arguments` would install into an empty environment."""
    report = tmp_path / "report.json"
    # Only what setup.sh says counts: no pip.conf (find-links, constraints) and no PIP_* settings but the
    # certificate store and the timeout.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env.update({key: os.environ[key] for key in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT") if key in os.environ})
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    result = subprocess.run(
        [*command, "--report", str(report), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    installs = json.loads(report.read_text())["install"]
    return {_normalised(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


def _cuda_and_jupyter(packages: dict[str, str]) -> list[str]:
    unwanted = []
    for name in packages:
        cuda = name.startswith(("nvidia-", "cuda-")) or name == "triton"
        jupyter = name.startswith("jupyter") and name not in ALLOWED_JUPYTER_PACKAGES
        if cuda or jupyter or name in ("notebook", "nbgrader", "ipykernel", "nbconvert", "nbclient"):
            unwanted.append(name)
    return sorted(unwanted)


@pytest.mark.network
def test_the_autograders_packages_but_torch_resolve_from_pypi_without_cuda_or_jupyter(tmp_path: Path) -> None:
    if not _reachable(f"{PYPI_INDEX}/pip/"):
        pytest.skip(f"{PYPI_INDEX} cannot be reached from here")
    requirements = [r for r in PYPROJECT["project"]["dependencies"] if _name(r) != "torch"]
    packages = _resolve(["--index-url", PYPI_INDEX, *requirements], tmp_path)
    assert _cuda_and_jupyter(packages) == []
    # Nothing else asks for torch: the one setup.sh installs, the CPU build, is the only one.
    assert "torch" not in packages
    assert {name for name in ("numpy", "matplotlib", "pytest", "nbformat") if name not in packages} == set()


@pytest.mark.network
def test_the_autograders_install_resolves_torchs_cpu_build(tmp_path: Path) -> None:
    if not _reachable(f"{PYTORCH_CPU_INDEX}/torch/"):
        pytest.skip(f"PyTorch's index ({PYTORCH_CPU_INDEX}) cannot be reached from here")
    packages = _resolve(autograder_install_arguments(source=str(REPO), pyproject=REPO / "pyproject.toml"), tmp_path)
    assert packages["torch"].endswith("+cpu")
    assert _cuda_and_jupyter(packages) == []
