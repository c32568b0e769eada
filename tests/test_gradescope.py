"""Gradescope's autograder.zip, run as Gradescope runs it, in a stand-in /autograder folder.

The zip is unpacked into AUTOGRADER_ROOT/source and `run_autograder` grades AUTOGRADER_ROOT/submission with
this machine's Python (setup.sh, which installs Python on Gradescope's image, is checked but not run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from coursekit.gradescope import build_autograder_zip

REPO = Path(__file__).resolve().parents[1]
MODULES = ("activations.py", "model.py", "training.py")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_autograder_zip(course_dir=REPO, dest=tmp_path_factory.mktemp("build"))


def test_the_zip_holds_the_graders_and_no_solution(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "course.yml", "pyproject.toml", "graders/test_training.py"} <= names
    assert "coursekit/grading.py" in names and "data/temperature.csv" in names
    assert [name for name in names if name.startswith("solutions/")] == ["solutions/temperature_data.py"]
    assert not [name for name in names if name.startswith(("graders/mutants/", "exercises/", "tests/"))]
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "python3.11" in setup and "bubblewrap" in setup


def _grade(autograder_zip: Path, root: Path, files: dict[str, str]) -> dict:
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    submission = root / "submission"
    submission.mkdir(parents=True)
    for name, text in files.items():
        (submission / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSEKIT_PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _solutions() -> dict[str, str]:
    return {name: (REPO / "solutions" / name).read_text(encoding="utf-8") for name in MODULES}


def test_a_correct_submission_gets_full_marks(autograder_zip: Path, tmp_path: Path) -> None:
    results = _grade(autograder_zip, tmp_path / "autograder", _solutions())
    assert results["score"] == 100
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    assert all(test["status"] == "passed" for test in results["tests"])


def test_a_buggy_submission_loses_points_in_its_part(autograder_zip: Path, tmp_path: Path) -> None:
    mutants = yaml.safe_load((REPO / "graders" / "mutants" / "training.yml").read_text())
    missing_zero_grad = next(m for m in mutants if m["name"] == "missing-zero-grad")
    files = _solutions()
    files["training.py"] = files["training.py"].replace(missing_zero_grad["replace"], missing_zero_grad["with"], 1)
    results = _grade(autograder_zip, tmp_path / "autograder", files)
    by_part: dict[str, float] = {}
    for test in results["tests"]:
        by_part[test["tags"][0]] = by_part.get(test["tags"][0], 0) + test["score"]
    assert by_part["activations"] == 30 and by_part["model"] == 30 and by_part["training"] < 40
    assert any("zero_grad" in test["output"] for test in results["tests"] if test["status"] == "failed")


def test_a_broken_submission_gets_zero_with_the_reason(autograder_zip: Path, tmp_path: Path) -> None:
    files = {"model.py": "class TemperatureNet(nn.Module)\n    pass\n"}
    results = _grade(autograder_zip, tmp_path / "autograder", files)
    assert results["score"] == 0
    assert "model.py: SyntaxError at line 1" in results["output"]
    assert "activations.py was not handed in" in results["output"]
