"""The tool knows no chapter: a second course, chapter 5 (tests/courses/ch5), goes through check, release, grade and
export with the same tool, through its command line, on a copy of the course in a temporary folder.

The copy has no pyproject.toml, no README.md and no examples: it is a course folder as an instructor keeps one
outside the kit's repository.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from repo_paths import COURSES, REPO

from coursekit.config import Course, load_course
from coursekit.grade.results import read_grades_csv

SOURCE = COURSES / "ch5"
PARTS = {"linear": 40.0, "descent": 60.0}


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("second-course") / "ch5"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "calibrate_*.py"))
    return copy


@pytest.fixture(scope="module")
def course(course_dir: Path) -> Course:
    return load_course(course_dir / "course.yml")


def coursekit(course_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m coursekit ARGUMENTS --course-dir COURSE_DIR`, run from an unrelated folder, with this kit."""
    env = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(PYTHONPATH=str(REPO), COLUMNS="200")
    command = [sys.executable, "-m", "coursekit", *arguments, "--course-dir", str(course_dir)]
    return subprocess.run(
        command, cwd=course_dir.parent, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_course_is_none_of_the_bundled_courses_names(course: Course) -> None:
    """The fixture proves something only if its files are none of the bundled course's (a name such as
    training_loop may be shared: the contracts differ)."""
    bundled = load_course(REPO / "course.yml")
    files = {part.file for part in course.assignment.parts} | set(course.given + course.data)
    assert not files & ({part.file for part in bundled.assignment.parts} | set(bundled.given + bundled.data))
    assert {part.id: part.points for part in course.assignment.parts} == PARTS


# --- check ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_proves_its_graders(course_dir: Path) -> None:
    output = succeeded(coursekit(course_dir, "check", "--jobs", "2"))
    mutants = [
        m["name"]
        for path in sorted((course_dir / "graders" / "mutants").glob("*.yml"))
        for m in yaml.safe_load(path.read_text())
    ]
    assert len(mutants) >= 3
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.startswith("│")}
    assert "40/40" in rows["solutions"] and "60/60" in rows["solutions"]
    assert "0/40" in rows["exercises"] and "0/60" in rows["exercises"]
    for name in mutants:
        assert "✓" in rows[name], output
    assert f"ok: {len(mutants) + 2} hand-ins graded" in output


def test_check_fails_when_a_mutant_is_not_caught(course_dir: Path, tmp_path: Path) -> None:
    """The check of the second course is a real one: a mutant that changes nothing is reported, exit status 1."""
    broken = tmp_path / "ch5"
    shutil.copytree(course_dir, broken)
    for path in (broken / "graders" / "mutants").glob("*.yml"):
        path.unlink()
    harmless = [
        {
            "name": "renamed-variable",
            "part": "linear",
            "file": "linear_model.py",
            "bug": "no bug at all: a variable renamed",
            "replace": "squared_diffs = (t_p - t_c) ** 2\n",
            "with": "diffs_squared = (t_p - t_c) ** 2\n    squared_diffs = diffs_squared\n",
        }
    ]
    (broken / "graders" / "mutants" / "linear.yml").write_text(yaml.safe_dump(harmless), encoding="utf-8")
    result = coursekit(broken, "check", "--jobs", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ renamed-variable"))
    assert "40/40" in row and "✓" not in row


# --- release -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(course_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    succeeded(coursekit(course_dir, "release", "--out", str(out)))
    return out


def test_release_gives_the_students_this_course(release: Path, course_dir: Path) -> None:
    student = release / "student"
    files = sorted(path.relative_to(student).as_posix() for path in student.rglob("*") if path.is_file())
    assert files == [
        "README.md",
        "conftest.py",
        "data/thermometer.csv",
        "exercise_progress.py",
        "gradient_descent.py",
        "handin.py",
        "linear_model.py",
        "pytest.ini",
        "requirements.txt",
        "tests/conftest.py",
        "tests/test_gradient_descent.py",
        "tests/test_linear_model.py",
        "thermometer_data.py",
    ]
    for name in ("linear_model.py", "gradient_descent.py"):
        assert (student / name).read_text() == (course_dir / "exercises" / name).read_text()
    readme = (student / "README.md").read_text()
    assert "chapter 5" in readme and "| 2.1 | `ex2_1` | `gradient_descent.py` | `training_loop` |" in readme
    requirements = (student / "requirements.txt").read_text().splitlines()
    pins = dict(line.split(";")[0].split("==") for line in requirements if "==" in line and not line.startswith("#"))
    assert f'"torch=={pins["torch"]}"' in (REPO / "pyproject.toml").read_text()  # the kit's own pins: graders run them
    with zipfile.ZipFile(release / "student.zip") as archive:
        assert sorted(name.removeprefix("ch5/") for name in archive.namelist()) == files


def test_release_notebook_is_worth_the_course(release: Path) -> None:
    notebook = nbformat.read(release / "nbgrader" / "source" / "ch5" / "ch5.ipynb", as_version=4)
    graded = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }
    assert graded == {"test_1_1_model": 20, "test_1_2_loss_fn": 20, "test_2_1_training_loop": 60}
    (data,) = [cell.source for cell in notebook.cells if cell.get("id") == "data_thermometer"]
    assert "t_c = torch.tensor([0.5, 14.0," in data and "t_u = torch.tensor([35.7," in data


def test_the_released_public_tests_pass_with_the_solutions(release: Path, course_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "student"
    shutil.copytree(release / "student", folder)
    for source in (course_dir / "solutions").glob("*.py"):
        shutil.copyfile(source, folder / source.name)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=folder, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0 and "6 passed" in result.stdout, result.stdout + result.stderr
    assert "3/3 exercises pass their public checks" in result.stdout, result.stdout


# --- grade ---------------------------------------------------------------------------------------------------


def _solutions(course_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in (course_dir / "solutions").glob("*.py")}


def _with_bug(sources: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert sources[name].count(old) == 1
    return {**sources, name: sources[name].replace(old, new)}


@pytest.fixture(scope="module")
def graded(course_dir: Path, release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class of five: the solutions as a folder and as a zip, a loss that sums, a loop that never zeroes the
    gradient, and the released stubs."""
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    correct = _solutions(course_dir)
    handins = {
        "correct": correct,
        "summed": _with_bug(correct, "linear_model.py", "squared_diffs.mean()", "squared_diffs.sum()"),
        "accumulated": _with_bug(correct, "gradient_descent.py", "params.grad.zero_()\n", "pass\n"),
        "stubs": {name: (release / "student" / name).read_text() for name in correct},
    }
    for student, sources in handins.items():
        (submissions / student).mkdir(parents=True)
        for name, text in sources.items():
            (submissions / student / name).write_text(text)
    with zipfile.ZipFile(submissions / "zipped.zip", "w") as archive:
        for name, text in correct.items():
            archive.writestr(f"ch5/{name}", text)
    out = root / "out"
    succeeded(coursekit(course_dir, "grade", str(submissions), "--out", str(out), "--jobs", "2"))
    return out


@pytest.mark.slow
def test_grade_gives_each_mistake_its_own_part(graded: Path, course: Course) -> None:
    scores = {row.student: row.part_scores for row in read_grades_csv(out_dir=graded, course=course)}
    assert scores == {
        "accumulated": {"linear": 40.0, "descent": 10.0},
        "correct": {"linear": 40.0, "descent": 60.0},
        "stubs": {"linear": 0.0, "descent": 0.0},
        "summed": {"linear": 20.0, "descent": 60.0},
        "zipped": {"linear": 40.0, "descent": 60.0},
    }


@pytest.mark.slow
def test_grade_feedback_names_the_mistake_and_draws_the_fit(graded: Path) -> None:
    def feedback(student: str) -> str:
        """The student's feedback, markdown's escapes taken out."""
        return (graded / "feedback" / f"{student}.md").read_text().replace("\\", "")

    assert "did you sum the squares instead of averaging them?" in feedback("summed")
    assert "did you forget params.grad.zero_()?" in feedback("accumulated")
    assert "Exercise 2.1: implement training_loop (see the docstring)" in feedback("stubs")
    assert (graded / "feedback" / "correct-fit.png").read_bytes().startswith(b"\x89PNG")
    assert "Your trained line, beside the measurements" in feedback("correct")
    results = json.loads((graded / "results" / "correct.json").read_text())
    assert results["score"] == 100 and {test["number"] for test in results["tests"]} == {"1.1", "1.2", "2.1"}


# --- export --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_csv_and_canvas(graded: Path, course_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    succeeded(coursekit(course_dir, "export", str(graded), "--to", "csv", "--dest", str(plain)))
    rows = {row["student_id"]: row for row in csv.DictReader(plain.open(encoding="utf-8-sig"))}
    assert sorted(rows) == ["accumulated", "correct", "stubs", "summed", "zipped"]
    assert (rows["summed"]["linear"], rows["summed"]["descent"], rows["summed"]["total"]) == ("20", "60", "80")

    roster = tmp_path / "roster.csv"
    lines = ["student_id,name,email,canvas_user_id,sis_user_id,sis_login_id,moodle_id,section"]
    lines += [f"{s},{s.title()},{s}@example.edu,{60000 + i},S{i},{s},{7000 + i},Lab A" for i, s in enumerate(rows)]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    canvas = tmp_path / "canvas.csv"
    arguments = ["--roster", str(roster), "--canvas-assignment-id", "55", "--dest", str(canvas)]
    output = succeeded(coursekit(course_dir, "export", str(graded), "--to", "canvas", *arguments))
    assert "wrote 5 rows" in output
    table = list(csv.reader(canvas.open(encoding="utf-8-sig")))
    title = "Chapter 5: fitting the thermometer by gradient descent (55)"
    assert table[0][-1] == title and table[1][-1] == "100"
    assert {row[1]: row[-1] for row in table[2:]}["60003"] == "80"


@pytest.mark.slow
def test_gradescope_autograder_grades_the_second_course(course_dir: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    succeeded(coursekit(course_dir, "export", str(tmp_path), "--to", "gradescope", "--dest", str(build)))
    with zipfile.ZipFile(build / "autograder.zip") as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "autograder" / "source")
    assert {"course.yml", "data/thermometer.csv", "graders/test_gradient_descent.py", "graders/probes.py"} <= names
    # The kit and what pip builds it from, though the course folder holds neither.
    assert {"pyproject.toml", "README.md", "coursekit/cli.py"} <= names
    assert not [name for name in names if name.startswith(("solutions/", "graders/mutants/", "exercises/"))]
    # pip can build the kit the image installs from this zip alone.
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    source = tmp_path / "autograder" / "source"
    wheel = subprocess.run(
        [*pip, "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=600, check=False
    )
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    submission = tmp_path / "autograder" / "submission"
    submission.mkdir()
    for name, text in _with_bug(_solutions(course_dir), "gradient_descent.py", "n_epochs + 1", "n_epochs").items():
        (submission / name).write_text(text)
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path / "autograder"), "COURSEKIT_PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(tmp_path / "autograder" / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "autograder" / "results" / "results.json").read_text())
    assert results["score"] == 40
    failed = [test for test in results["tests"] if test["status"] == "failed"]
    assert {test["number"] for test in failed} == {"2.1"}
    assert any("does range() start at 1 and stop at n_epochs?" in test.get("output", "") for test in failed)


def test_grade_with_a_missing_probes_file_is_one_line(course_dir: Path, tmp_path: Path) -> None:
    """A course whose chapter.probes file is gone is the course's error, said once: no traceback, no grades."""
    broken = tmp_path / "ch5"
    shutil.copytree(course_dir, broken)
    (broken / "graders" / "probes.py").unlink()
    (tmp_path / "submissions" / "someone").mkdir(parents=True)
    result = coursekit(broken, "grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "error:" in result.stderr and "probes.py" in result.stderr and "chapter.probes" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
