"""The release's student folder, used as a student uses it: exercise markers, the progress table, `python handin.py`,
`python fit.py`, the CPU-only requirements, and a public suite that never imports torch._dynamo."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.author.release import PYTORCH_CPU_INDEX, build_release
from coursekit.author.student_folder import HANDIN_ZIP, marker_name
from coursekit.config import load_course
from coursekit.intake.handin import unpack_handin

COURSE = load_course(REPO / "course.yml")
EXERCISES = [exercise for part in COURSE.assignment.parts for exercise in part.exercises]
PART_FILES = [part.file for part in COURSE.assignment.parts]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_release(course_dir=REPO, out_dir=tmp_path_factory.mktemp("release")).student_dir


@pytest.fixture
def folder(released: Path, tmp_path: Path) -> Path:
    """A fresh copy of the student folder, stubs untouched."""
    copy = tmp_path / "student"
    shutil.copytree(released, copy)
    return copy


def with_solutions(folder: Path, *, except_files: tuple[str, ...] = ()) -> Path:
    for name in PART_FILES:
        if name not in except_files:
            shutil.copy(REPO / "solutions" / name, folder / name)
    return folder


def student_env(**extra: str) -> dict[str, str]:
    # A student's shell has no PYTHONPATH pointing into the course repository.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST"))}
    return {**env, **extra}


def run(folder: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=folder, env=env or student_env(), capture_output=True, text=True, timeout=300
    )


def pytest_in(folder: Path, *arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(folder, str(Path(sys.executable).parent / "pytest"), "-q", *arguments, env=env)


def progress_rows(stdout: str) -> dict[str, tuple[str, str, str]]:
    """The progress table: exercise -> (name, public checks passed, points at stake)."""
    rows = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 4 and re.fullmatch(r"\d+\.\d+", cells[0]):
            rows[cells[0]] = (cells[1], cells[2], cells[3])
    return rows


def test_every_public_test_carries_its_exercise_marker_and_every_marker_is_registered(released: Path) -> None:
    ini = (released / "pytest.ini").read_text(encoding="utf-8")
    assert "--strict-markers" in ini
    registered = re.findall(r"^\s+(ex\w+): exercise", ini, flags=re.MULTILINE)
    assert registered == [marker_name(exercise.id) for exercise in EXERCISES] == [
        "ex1_1", "ex1_2", "ex1_3", "ex1_4", "ex1_5", "ex1_6", "ex2_1", "ex2_2", "ex3_1", "ex3_2", "ex3_3",
    ]  # fmt: skip
    for path in sorted((released / "tests").glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                marks = [ast.unparse(decorator) for decorator in node.decorator_list]
                match = re.match(r"test_(\d+)_(\d+)_", node.name)
                assert match and marks == [f"pytest.mark.ex{match[1]}_{match[2]}"], (path.name, node.name, marks)


def test_pytest_m_runs_one_exercises_tests_and_a_misspelt_marker_is_an_error(folder: Path) -> None:
    with_solutions(folder)
    result = pytest_in(folder, "-m", "ex1_2")
    expected = sum(1 for line in (folder / "tests" / "test_activations.py").read_text().splitlines() if "ex1_2" in line)
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(rf"\b{expected} passed, \d+ deselected", result.stdout), result.stdout[-1000:]
    rows = progress_rows(result.stdout)
    assert rows["1.2"] == ("sigmoid", f"{expected}/{expected}", "5")
    assert rows["1.1"][1] == "not run"

    (folder / "tests" / "test_extra.py").write_text("import pytest\n\n\n@pytest.mark.ex1_22\ndef test_x():\n    pass\n")
    misspelt = pytest_in(folder)
    assert misspelt.returncode != 0 and "'ex1_22' not found in `markers` configuration option" in misspelt.stdout


def test_progress_table_counts_an_exercise_only_when_all_its_public_checks_pass(folder: Path) -> None:
    with_solutions(folder)
    passing = pytest_in(folder)
    assert passing.returncode == 0
    assert "11/11 exercises pass their public checks" in passing.stdout
    rows = progress_rows(passing.stdout)
    assert list(rows) == [exercise.id for exercise in EXERCISES]
    assert rows["2.1"][0] == "TemperatureNet" and rows["3.2"][2] == "22"
    # sigmoid that overflows for large inputs: one of its four checks fails, so exercise 1.2 does not count.
    with (folder / "activations.py").open("a", encoding="utf-8") as activations:
        activations.write("\n\ndef sigmoid(x):\n    return torch.exp(x) / (1 + torch.exp(x))\n")
    result = pytest_in(folder)
    assert result.returncode == 1
    rows = progress_rows(result.stdout)
    assert rows["1.2"] == ("sigmoid", "3/4", "5"), result.stdout[-2000:]
    assert result.stdout.rstrip().splitlines()[-2] == "10/11 exercises pass their public checks"


def test_progress_table_on_the_stubs_shows_nothing_passes(folder: Path) -> None:
    result = pytest_in(folder)
    assert result.returncode == 1
    rows = progress_rows(result.stdout)
    assert all(passed.startswith("0/") for _, passed, _ in rows.values()) and len(rows) == len(EXERCISES)
    assert "0/11 exercises pass their public checks" in result.stdout


def test_handin_writes_exactly_the_part_files_and_warns_about_stubs(folder: Path, tmp_path: Path) -> None:
    with_solutions(folder, except_files=("training.py",))
    (folder / "notes.txt").write_text("scratch")
    (folder / ".venv").mkdir()
    result = run(folder, sys.executable, "handin.py")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    stub_lines = [
        line for line in (folder / "training.py").read_text().splitlines() if "raise NotImplementedError" in line
    ]
    assert len(warnings) == len(stub_lines) == 3
    assert all(warning.startswith("warning: training.py, line ") for warning in warnings)
    assert "Exercise 3.2: implement training_loop" in result.stderr
    with zipfile.ZipFile(folder / HANDIN_ZIP) as archive:
        assert sorted(archive.namelist()) == sorted(PART_FILES)
        assert archive.read("model.py") == (REPO / "solutions" / "model.py").read_bytes()
    handin = unpack_handin(
        student_id="s", source=folder / HANDIN_ZIP, dest_dir=tmp_path / "unpacked", course=COURSE, limits=COURSE.intake
    )
    assert handin.problems == () and sorted(handin.files) == sorted(PART_FILES)

    with_solutions(folder)
    (folder / "model.py").write_text("def broken(:\n")
    again = run(folder, sys.executable, "handin.py")
    assert again.returncode == 0
    assert "warning: model.py: Python cannot read it (line 1" in again.stderr
    (folder / "model.py").unlink()
    missing = run(folder, sys.executable, "handin.py")
    assert missing.returncode == 1 and "model.py not found" in missing.stderr


@pytest.mark.slow
def test_fit_trains_the_students_model_on_the_book_data_and_saves_the_figure(folder: Path) -> None:
    stubs = run(folder, sys.executable, "fit.py")
    assert stubs.returncode == 1 and "not yet implemented: Exercise" in stubs.stderr
    assert not (folder / "fit.png").exists()

    with_solutions(folder)
    result = run(folder, sys.executable, "fit.py")
    assert result.returncode == 0, result.stderr
    assert "on 9 measurements, validating on 2" in result.stdout
    progress = re.findall(r"^Epoch (\d+), Training loss ([\d.]+), Validation loss ([\d.]+)$", result.stdout, re.M)
    epochs = [int(epoch) for epoch, _, _ in progress]
    assert epochs[-6:] == [1, 1000, 2000, 3000, 4000, 5000]
    first, last = float(progress[-6][1]), float(progress[-1][1])
    # The book's run: the training loss falls from about 200 to a few degC^2 in 5000 epochs.
    assert last < 0.05 * first, result.stdout
    png = (folder / "fit.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


_DYNAMO_PROBE = """
import sys

def pytest_sessionfinish(session):
    with open({path!r}, "w") as file:
        file.write(" ".join(sorted(name for name in sys.modules if name.startswith("torch._dynamo")))[:200])
"""


def test_the_public_suite_never_imports_torch_dynamo(folder: Path, tmp_path: Path) -> None:
    """torch's optimizers import torch._dynamo on first use (a second of every run); the public tests avoid it."""
    with_solutions(folder)
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "dynamo_probe.py").write_text(_DYNAMO_PROBE.format(path=str(tmp_path / "modules.txt")))
    result = pytest_in(folder, "-p", "dynamo_probe", env=student_env(PYTHONPATH=str(probe_dir)))
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "modules.txt").read_text() == ""


def test_requirements_take_torch_cpu_only_on_linux_and_the_plain_pin_elsewhere(released: Path) -> None:
    from packaging.requirements import Requirement

    from coursekit.export.gradescope import PYTORCH_CPU_INDEX as GRADESCOPE_INDEX

    lines = [line for line in (released / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == f"--extra-index-url {PYTORCH_CPU_INDEX}" and PYTORCH_CPU_INDEX == GRADESCOPE_INDEX
    requirements = [Requirement(line) for line in lines[1:]]
    for platform, expected in (("linux", "==2.13.0+cpu"), ("darwin", "==2.13.0"), ("win32", "==2.13.0")):
        torch = [
            r for r in requirements if r.name == "torch" and r.marker and r.marker.evaluate({"sys_platform": platform})
        ]
        assert [str(r.specifier) for r in torch] == [expected], platform
    assert {r.name for r in requirements} == {"torch", "numpy", "matplotlib", "pytest"}


def test_readme_documents_markers_the_scripts_the_handin_and_python(released: Path) -> None:
    readme = (released / "README.md").read_text(encoding="utf-8")
    for text in ("pytest -m ex1_2", "python handin.py", "`handin.zip`", "python fit.py", "Python 3.11", "CPU-only"):
        assert text in readme, text
    assert "zip of this folder" not in readme
