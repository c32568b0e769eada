"""nbgrader: the grading kernel's scores, `coursekit grade`'s verdicts in the gradebook, and the stock CLI.

- `notebook_exercise_score`: what a test cell's hidden part calls while `nbgrader autograde` runs a notebook, so
  nbgrader gives each exercise the points `coursekit grade` gives it (with no sandbox: nbgrader's own way of trusting the code).
- `write_gradebook`: the safe path. `coursekit grade` grades the collected notebooks in its sandbox, and this writes
  its points into nbgrader's gradebook (its Gradebook API), for formgrader and `nbgrader export`.
- `nbgrader_environment`, `run_nbgrader`, `gradebook_scores`: running the stock nbgrader CLI on a built course
  with a private Jupyter set-up (tests and benchmarks). Nothing global changes: the kernelspec, Jupyter's
  data/config/runtime folders, IPython's and matplotlib's folders all live under `jupyter_dir`, and the kernel is
  this Python.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from coursekit.config import Course, load_course
from coursekit.errors import CoursekitError
from coursekit.grade.plugin import GradingPlugin


def nbgrader_environment(*, jupyter_dir: Path) -> dict[str, str]:
    """Environment variables for nbgrader with a `python3` kernel that is this interpreter."""
    kernel_dir = jupyter_dir / "data" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (coursekit)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        # nbgrader's gradebook runs `alembic` from PATH.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_DATA_DIR": str(jupyter_dir / "data"),
        "JUPYTER_PATH": str(jupyter_dir / "data"),
        "JUPYTER_CONFIG_DIR": str(jupyter_dir / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter_dir / "runtime"),
        "IPYTHONDIR": str(jupyter_dir / "ipython"),
        "MPLCONFIGDIR": str(jupyter_dir / "matplotlib"),
    }


def run_nbgrader(*args: str, course_root: Path, env: dict[str, str], timeout: float = 1800) -> float:
    """Run `nbgrader ARGS...` in `course_root`; return the seconds it took; raise with its output on failure."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=course_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def gradebook_scores(*, course_root: Path, assignment: str, students: list[str]) -> dict[str, float]:
    """Each student's total score in nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with _alembic_on_path(), Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        return {student: float(gradebook.find_submission(assignment, student).score) for student in students}


# --- in the grading kernel: the hidden graders' points for the notebook being autograded ---------------------

# The course folder the grading kernel grades with (course.yml and graders/): nbgrader_config.py sets it.
COURSE_ENVIRONMENT_VARIABLE = "COURSEKIT_COURSE"

# Each part graded once per kernel: (notebook path, its mtime and size, part) -> points per exercise.
_PART_SCORES: dict[tuple[str, int, int, str], dict[str, float]] = {}


class KernelGradingError(CoursekitError, RuntimeError):
    """The grading kernel could not grade with the course (no course folder, graders that do not run)."""


def notebook_exercise_score(exercise_id: str, *, notebook: str) -> float:
    """The points the hidden graders give `exercise_id` for the notebook file `notebook`, as `coursekit grade` does.

    Called by a test cell's hidden part while `nbgrader autograde` runs the notebook: the file on disk (the hand-in
    as autograde restored it) goes through the same intake and the same graders as in `coursekit grade`, at the
    graders' own check weights, and the cell shows the sum, which nbgrader takes as the cell's partial credit. The
    student's code runs in this kernel, with no sandbox, as nbgrader always runs it. The first test cell of a part
    grades the whole part, as one sandboxed worker session does; the other cells of the part read its points.
    """
    course_dir = _course_folder()
    course = load_course(course_dir / "course.yml")
    part, _ = course.assignment.exercise(exercise_id)
    path = Path(notebook).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, part.id)
    if key not in _PART_SCORES:
        _PART_SCORES[key] = _grade_part(path, part=part.id, course_dir=course_dir)
    return round(_PART_SCORES[key].get(exercise_id, 0.0), 6)


def _course_folder() -> Path:
    value = os.environ.get(COURSE_ENVIRONMENT_VARIABLE)
    if not value:
        raise KernelGradingError(
            f"{COURSE_ENVIRONMENT_VARIABLE} is not set: run nbgrader from the course folder `coursekit release` wrote, "
            "whose nbgrader_config.py sets it"
        )
    folder = Path(value)
    if not (folder / "course.yml").is_file():
        raise KernelGradingError(f"{COURSE_ENVIRONMENT_VARIABLE}={value} holds no course.yml")
    return folder


class _OnePart:
    """Deselects the grader tests of every other part."""

    def __init__(self, plugin: GradingPlugin, part: str) -> None:
        self.plugin = plugin
        self.part = part

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        kept = [item for item in items if self.plugin.part_of(item)[1] == self.part]
        deselected = [item for item in items if self.plugin.part_of(item)[1] != self.part]
        items[:] = kept
        config.hook.pytest_deselected(items=deselected)


def _grade_part(notebook: Path, *, part: str, course_dir: Path) -> dict[str, float]:
    """Points per exercise of `part` for the notebook, from the course's graders run in this process."""
    from coursekit.grade.engine import load_course_code
    from coursekit.grade.preflight import grader_arguments
    from coursekit.intake.handin import unpack_handin
    from coursekit.sandbox.pool import course_probes_file
    from coursekit.sandbox.student import InProcessStudent

    course = load_course(course_dir / "course.yml")
    graders_dir = (course_dir / "graders").resolve()
    load_course_code(course_dir, course)
    with tempfile.TemporaryDirectory(prefix="coursekit-notebook-") as scratch:
        handin = unpack_handin(
            student_id="notebook",
            source=notebook,
            dest_dir=Path(scratch) / "handin",
            course=course,
            limits=course.intake,
        )
        for given in course.given:
            shutil.copy2(course_dir / given, handin.directory / Path(given).name)
        student = InProcessStudent(handin.directory, probes_file=course_probes_file(course_dir, course))
        plugin = GradingPlugin(course, lambda _part: student, handin_dir=handin.directory)
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                status = pytest.main(
                    [*grader_arguments(graders_dir), "-p", "no:terminal"], plugins=[plugin, _OnePart(plugin, part)]
                )
        finally:
            # The graders and the hand-in's modules keep plain names (test_<part>, <module>): the next run imports its own.
            for name, module in list(sys.modules.items()):
                origin = str(getattr(module, "__file__", None) or "")
                if origin.startswith((str(graders_dir), str(handin.directory.resolve()), scratch)):
                    del sys.modules[name]
            with contextlib.suppress(ValueError):
                sys.path.remove(str(handin.directory.resolve()))
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise KernelGradingError(f"the graders in {graders_dir} did not run ({status!r}):\n{captured.getvalue()}")
    broken = [verdict.name for verdict in plugin.verdicts if verdict.grader_error]
    if broken:
        raise KernelGradingError(f"the graders could not run {', '.join(broken)}")
    scores: dict[str, float] = {}
    for verdict in plugin.verdicts:
        scores[verdict.exercise] = scores.get(verdict.exercise, 0.0) + verdict.score
    return scores


# --- the safe path: `coursekit grade`'s verdicts written into nbgrader's gradebook ---------------------------------


@dataclass(frozen=True)
class GradebookReport:
    """What `write_gradebook` entered: the students it wrote, and those graded by coursekit but left out."""

    written: list[str]
    not_graded: list[str]


def write_gradebook(*, out_dir: Path, course_root: Path, course: Course) -> GradebookReport:
    """Write `coursekit grade`'s points (OUT/results) into the nbgrader course's gradebook, one grade cell per exercise.

    Each student becomes an nbgrader student with a submission of the assignment, and each exercise's test cell
    (its grade_id) gets the exercise's points as its auto score, so formgrader, `nbgrader export` and the gradebook
    show what the sandboxed graders gave. `nbgrader generate_assignment` must have entered the assignment first.
    A student whose grading could not finish is left out (nbgrader would show a zero).
    """
    from nbgrader.api import Gradebook, MissingEntry

    from coursekit.author.notebook import grade_cell_id, notebook_name
    from coursekit.grade.results import graded_students, read_student_result

    assignment = course.assignment
    written: list[str] = []
    not_graded: list[str] = []
    with _alembic_on_path(), Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        try:
            gradebook.find_assignment(assignment.id)
        except MissingEntry:
            raise NbgraderCourseError(
                f"{course_root / 'gradebook.db'} has no assignment {assignment.id}: run "
                f"`nbgrader generate_assignment {assignment.id}` in {course_root} first"
            ) from None
        for student_id in graded_students(out_dir):
            result = read_student_result(out_dir, student_id)
            if result is None or result.not_graded is not None:
                not_graded.append(student_id)
                continue
            points = {exercise.id: 0.0 for part in assignment.parts for exercise in part.exercises}
            for verdict in result.verdicts:
                points[verdict.exercise] = points.get(verdict.exercise, 0.0) + verdict.score
            gradebook.update_or_create_student(student_id)
            gradebook.update_or_create_submission(assignment.id, student_id)
            for part in assignment.parts:
                for exercise in part.exercises:
                    grade = gradebook.find_grade(
                        grade_cell_id(exercise), notebook_name(course), assignment.id, student_id
                    )
                    grade.auto_score = round(points[exercise.id], 6)
                    grade.manual_score = None
                    grade.needs_manual_grade = False
            gradebook.db.commit()
            written.append(student_id)
    return GradebookReport(written=written, not_graded=not_graded)


class NbgraderCourseError(CoursekitError, ValueError):
    """The nbgrader course cannot take the grades (no gradebook entry for the assignment)."""


@contextlib.contextmanager
def _alembic_on_path() -> Iterator[None]:
    """nbgrader's Gradebook runs `alembic` from PATH, which holds this venv's bin only when the venv is activated."""
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{previous}"
    try:
        yield
    finally:
        os.environ["PATH"] = previous
