"""The release: what students get (a folder and a zip for the LMS) and a complete nbgrader course.

`build_release` runs these steps in order:

1. check that exercises/ is up to date with solutions/ (a stale stub must never ship);
2. collect the student files: the stubs and given modules (exercises/*.py), the public tests and their
   pytest configuration, course.yml's data files, a generated README.md and requirements.txt;
3. refuse to ship anything that carries a solution fence, a hidden-test marker, a distinctive line of a
   solution's body, a file from graders/ or solutions/ (`ReleaseLeakError`);
4. write ``out_dir/student/`` and ``out_dir/student.zip`` (sorted entries, fixed timestamps and
   permissions: the same inputs give the same bytes);
5. write ``out_dir/nbgrader/``: ``nbgrader_config.py`` and ``source/<assignment>/<assignment>.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coursekit.author.notebook import build_notebook, exercise_points, notebook_name, notebook_text
from coursekit.author.stubs import BEGIN_FENCE, END_FENCE, build_exercises
from coursekit.config import Course, kit_pyproject, load_course
from coursekit.errors import CoursekitError

# The packages a student installs: what the stubs, the public tests and the plot need.
STUDENT_PACKAGES = ("torch", "numpy", "matplotlib", "pytest")
# The earliest time a zip entry can carry; any fixed value makes the archive reproducible.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Markers that only instructor files carry.
LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# A solution line shorter than this is too common to prove a leak ("return fig", "with torch.no_grad():").
DISTINCTIVE_LINE_LENGTH = 24
# Caches and editor files; so are hidden ones (a name starting with a dot: caches, checkpoints, macOS metadata).
_SKIPPED_NAMES = ("__pycache__",)


class ReleaseError(CoursekitError, RuntimeError):
    """The release cannot be built from the course as it stands."""


class ReleaseLeakError(ReleaseError):
    """A file bound for students carries instructor-only content; the message names the file and what."""


@dataclass(frozen=True)
class ReleaseReport:
    """What `build_release` wrote."""

    student_dir: Path
    student_zip: Path
    student_files: tuple[str, ...]  # paths inside student_dir (and inside the zip's top folder), sorted
    zip_sha256: str
    nbgrader_dir: Path
    source_notebook: Path
    points: float


def student_requirements(*, pyproject: Path) -> str:
    """requirements.txt for students: the pins of `STUDENT_PACKAGES` from pyproject.toml's [project] dependencies."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        dependencies: list[str] = project["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ReleaseError(f"{pyproject}: cannot read [project] dependencies: {error}") from None
    pins: dict[str, str] = {}
    for requirement in dependencies:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([A-Za-z0-9_.+!-]+)\s*", requirement)
        if match:
            pins[match.group(1).lower()] = f"{match.group(1)}=={match.group(2)}"
    missing = [name for name in STUDENT_PACKAGES if name not in pins]
    if missing:
        raise ReleaseError(
            f"{pyproject}: [project] dependencies must pin {', '.join(missing)} with '==' "
            "(students and graders must run the same versions)"
        )
    lines = [pins[name] for name in STUDENT_PACKAGES]
    return (
        "# The versions the graders run; install them with: pip install -r requirements.txt\n" + "\n".join(lines) + "\n"
    )


def student_readme(*, course: Course, course_dir: Path) -> str:
    """The README.md of the student release: what to do, how to test, what to hand in, the exercises."""
    assignment = course.assignment
    book = course.book
    files = ", ".join(f"`{part.file}`" for part in assignment.parts)
    exercises = [exercise for part in assignment.parts for exercise in part.exercises]
    example = exercises[min(1, len(exercises) - 1)].name
    rows = []
    for part in assignment.parts:
        for exercise, points in zip(part.exercises, exercise_points(part, course_dir=course_dir), strict=True):
            rows.append(f"| {exercise.id} | `{part.file}` | `{exercise.name}` | {exercise.title} | {points:g} |")
    table = "\n".join(rows)
    return f"""# {assignment.title}

Exercises for chapter {book.chapter} of *{book.title}* ({book.authors}), "{book.chapter_title}".
{course.release.introduction.strip()}

## What to do

Each exercise is a function or class in {files} whose body raises
`NotImplementedError("Exercise 1.2: ...")`. Replace that line with your code. Keep every name and
signature as given: the graders import them. The docstrings state the shapes, dtypes and maths.

## Set up and test

With Python 3.11:

```
python -m venv .venv
source .venv/bin/activate          # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
pytest
```

`pytest` runs the public tests in `tests/` against your files; run one exercise's tests with, e.g.,
`pytest -k {example}`. Every test fails until you implement its exercise. The graders run more checks than
the public tests (on other inputs, and more of each exercise), so passing them is necessary,
not sufficient. The tests need no GPU and no internet.

## What to hand in

{files}, through the course page: the files themselves, or a zip of this
folder. Do not rename them; anything else you hand in is ignored. Total: {assignment.points:g} points.

## Exercises

| exercise | file | name | what | points |
|---|---|---|---|---|
{table}
"""


def _is_skipped(relative: PurePosixPath) -> bool:
    return any(part in _SKIPPED_NAMES or part.startswith(".") or part.endswith(".pyc") for part in relative.parts)


def collect_student_files(*, course_dir: Path, course: Course) -> dict[str, bytes]:
    """Every file of the student release, keyed by its path inside the release (posix, sorted)."""
    exercises = course_dir / "exercises"
    files: dict[str, bytes] = {}
    for path in sorted(exercises.glob("*.py")) + sorted(exercises.glob("pytest.ini")):
        files[path.name] = path.read_bytes()
    tests = exercises / "tests"
    for path in sorted(tests.rglob("*")):
        relative = PurePosixPath(path.relative_to(exercises).as_posix())
        if path.is_file() and not _is_skipped(relative):
            files[str(relative)] = path.read_bytes()
    for name in [part.file for part in course.assignment.parts] + course.given_modules:
        if name not in files:
            raise ReleaseError(f"{exercises / name} is missing; run `coursekit build-exercises`")
    for data in course.data:  # beside the given modules, under the course's own relative path
        path = course_dir / data
        if not path.is_file():
            raise ReleaseError(f"{path} is missing: course.yml's data lists it")
        files[data] = path.read_bytes()
    files["README.md"] = student_readme(course=course, course_dir=course_dir).encode("utf-8")
    files["requirements.txt"] = student_requirements(pyproject=kit_pyproject()).encode("utf-8")
    return dict(sorted(files.items()))


def distinctive_solution_lines(*, course_dir: Path) -> set[str]:
    """Lines of the solutions' fenced bodies that are long and appear nowhere else in the solution files.

    One of them in a student file means a solution leaked.
    """
    inside: set[str] = set()
    outside: set[str] = set()
    for path in sorted((course_dir / "solutions").glob("*.py")):
        fenced = False
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text == BEGIN_FENCE:
                fenced = True
            elif text == END_FENCE:
                fenced = False
            elif fenced:
                inside.add(text)
            else:
                outside.add(text)
    return {line for line in inside - outside if len(line) >= DISTINCTIVE_LINE_LENGTH and not line.startswith("#")}


def check_no_leaks(*, course_dir: Path, files: dict[str, bytes]) -> None:
    """Raise `ReleaseLeakError` if a student file carries a fence, a solution body line or an instructor file."""
    distinctive = distinctive_solution_lines(course_dir=course_dir)
    instructor_files = {
        path.read_bytes(): path.relative_to(course_dir).as_posix()
        for folder in ("graders", "solutions")
        for path in sorted((course_dir / folder).rglob("*"))
        if path.is_file() and path.stat().st_size > 0
    }
    problems: list[str] = []
    for name, content in files.items():
        if {"graders", "solutions"} & set(PurePosixPath(name).parts):
            problems.append(f"{name}: an instructor folder")
        if content in instructor_files:
            problems.append(f"{name}: a copy of {instructor_files[content]}")
        text = content.decode("utf-8", errors="replace")
        problems += [f"{name}: contains {marker!r}" for marker in LEAK_MARKERS if marker in text]
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() in distinctive:
                problems.append(f"{name}, line {number}: a line of a reference solution: {line.strip()!r}")
    if problems:
        raise ReleaseLeakError("the student release would leak instructor content:\n" + "\n".join(problems))


def write_zip(*, files: dict[str, bytes], path: Path, top_folder: str) -> str:
    """Write `files` under `top_folder`/ into a reproducible zip at `path`; return its sha256.

    Entries are sorted, stamped `ZIP_TIMESTAMP`, mode 644, made on a Unix system, deflated at level 9:
    the same files give the same bytes on any machine, so a re-upload to the LMS is a no-op.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{top_folder}/{name}", date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_id(course: Course) -> str:
    """The nbgrader course id: the book's title as a slug plus the chapter, e.g. ``deep-learning-with-pytorch-ch6``."""
    slug = re.sub(r"[^a-z0-9]+", "-", course.book.title.lower()).strip("-")
    return f"{slug}-ch{course.book.chapter}"


def nbgrader_config_text(*, course: Course) -> str:
    """nbgrader_config.py for the course: its id, the assignment, and the options the course relies on."""
    assignment = course.assignment
    timeout = max(1, round(course.limits.time_seconds))
    stub = '# YOUR CODE HERE\nraise NotImplementedError("replace this line with your code (see the docstring above)")'
    return f'''"""nbgrader configuration for the course in course.yml, generated by `coursekit release`.

{course.title}: assignment {assignment.id}, {assignment.points:g} points.
"""

# nbgrader's config loader runs this file with `c`, the configuration, already defined.
# ruff: noqa: F821
c.CourseDirectory.course_id = {json.dumps(course_id(course))}
# The course's one assignment is {assignment.id}: its notebook is source/{assignment.id}/{notebook_name(course)}.ipynb,
# and `nbgrader generate_assignment {assignment.id}` enters it into the gradebook. (Setting
# CourseDirectory.assignment_id here would make nbgrader refuse the assignment given on the command line.)
c.GenerateAssignment.create_assignment = True

# A student's copy of a solution cell: the code between the fences becomes this.
c.ClearSolutions.code_stub = {{"python": {json.dumps(stub)}}}
# Only cells marked as solution / test cells are cleared, as the notebook's metadata says.
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.enforce_metadata = True
# In Jupyter, students can neither edit nor delete the set-up, data and test cells, nor delete a solution cell.
c.LockCells.lock_readonly_cells = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_solution_cells = True

# Autograding restores what a student changed: a test cell deleted from the hand-in is added back
# (OverwriteCells.add_missing_cells); an edited locked cell, test cells included, gets its source back
# from the gradebook (OverwriteCells does that for every locked cell, hidden tests included).
c.OverwriteCells.add_missing_cells = True
# One cell may run as long as course.yml allows one part of a hand-in (limits.time_seconds).
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
'''


def build_nbgrader_course(*, course_dir: Path, out_dir: Path) -> Path:
    """Write an nbgrader course into `out_dir` (nbgrader_config.py, source/<assignment>/); return the notebook path."""
    course = load_course(course_dir / "course.yml")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "nbgrader_config.py").write_text(nbgrader_config_text(course=course), encoding="utf-8")
    notebook_path = out_dir / "source" / course.assignment.id / f"{notebook_name(course)}.ipynb"
    notebook_path.parent.mkdir(parents=True, exist_ok=True)
    notebook = build_notebook(course_dir=course_dir, with_solutions=True)
    notebook_path.write_text(notebook_text(notebook), encoding="utf-8")
    return notebook_path


def build_release(*, course_dir: Path, out_dir: Path) -> ReleaseReport:
    """Build the student release and the nbgrader course from ``course_dir`` into ``out_dir``.

    Writes ``out_dir/student/``, ``out_dir/student.zip`` (entries under ``<assignment id>/``) and
    ``out_dir/nbgrader/``, replacing what an earlier release left there. Raises
    `coursekit.author.stubs.StaleExercisesError` when exercises/ is out of date with solutions/,
    `ReleaseLeakError` when a student file would carry instructor content, `ReleaseError` for a missing
    stub or an unpinned requirement.
    """
    course = load_course(course_dir / "course.yml")
    build_exercises(course_dir=course_dir, check_only=True)
    files = collect_student_files(course_dir=course_dir, course=course)
    check_no_leaks(course_dir=course_dir, files=files)

    student_dir = out_dir / "student"
    student_zip = out_dir / "student.zip"
    nbgrader_dir = out_dir / "nbgrader"
    for stale in (student_dir, nbgrader_dir):
        if stale.exists():
            shutil.rmtree(stale)
    student_zip.unlink(missing_ok=True)

    for name, content in files.items():
        target = student_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    zip_sha256 = write_zip(files=files, path=student_zip, top_folder=course.assignment.id)
    source_notebook = build_nbgrader_course(course_dir=course_dir, out_dir=nbgrader_dir)
    return ReleaseReport(
        student_dir=student_dir,
        student_zip=student_zip,
        student_files=tuple(files),
        zip_sha256=zip_sha256,
        nbgrader_dir=nbgrader_dir,
        source_notebook=source_notebook,
        points=course.assignment.points,
    )
