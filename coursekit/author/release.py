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
from coursekit.author.student_folder import GENERATED_FILES, HANDIN_SCRIPT, HANDIN_ZIP, generated_files, marker_name
from coursekit.config import Course, kit_pyproject, load_course
from coursekit.errors import CoursekitError

# The packages a student installs: what the stubs, the public tests and the plot need.
STUDENT_PACKAGES = ("torch", "numpy", "matplotlib", "pytest")
# PyTorch's index of CPU-only wheels: PyPI's Linux torch is the CUDA build (19 CUDA packages, several GB), and
# its macOS and Windows builds are CPU-only already.
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The Python version students use: the graders' (pyproject.toml's requires-python), the one the release is tested with.
STUDENT_PYTHON = "3.11"
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
    lines = []
    for name in STUDENT_PACKAGES:
        if name == "torch":
            version = pins[name].split("==")[1]
            # The +cpu local version exists on the CPU index alone, so pip cannot pick a CUDA build on Linux.
            lines += [f'torch=={version}+cpu; sys_platform == "linux"', f'torch=={version}; sys_platform != "linux"']
        else:
            lines.append(pins[name])
    return (
        "# The versions the graders run; install them with: pip install -r requirements.txt\n"
        "# Linux gets torch's CPU-only build from PyTorch's CPU index; macOS and Windows get PyPI's (CPU-only there).\n"
        f"--extra-index-url {PYTORCH_CPU_INDEX}\n" + "\n".join(lines) + "\n"
    )


def student_readme(*, course: Course, course_dir: Path) -> str:
    """The README.md of the student release: set-up, testing, the course's scripts, hand-in, the exercises."""
    assignment = course.assignment
    book = course.book
    files = ", ".join(f"`{part.file}`" for part in assignment.parts)
    exercises = [exercise for part in assignment.parts for exercise in part.exercises]
    example = exercises[min(1, len(exercises) - 1)]
    rows = []
    for part in assignment.parts:
        for exercise, points in zip(part.exercises, exercise_points(part, course_dir=course_dir), strict=True):
            rows.append(
                f"| {exercise.id} | `{marker_name(exercise.id)}` | `{part.file}` | `{exercise.name}` | "
                f"{exercise.title} | {points:g} |"
            )
    table = "\n".join(rows)
    scripts = "".join(f"- `python {script.file}` {script.description.strip()}\n" for script in course.release.scripts)
    try_section = f"\n## Try your code\n\n{scripts}" if scripts else ""
    return f"""# {assignment.title}

Exercises for chapter {book.chapter} of *{book.title}* ({book.authors}), "{book.chapter_title}".
{course.release.introduction.strip()}

## What to do

Each exercise is a function or class in {files} whose body raises
`NotImplementedError("Exercise {example.id}: ...")`. Replace that line with your code. Keep every name and
signature as given: the graders import them. The docstrings state the shapes, dtypes and maths.

## Set up and test

Python {STUDENT_PYTHON}: the version the graders run, and the one this folder is tested with. In this folder:

```
python -m venv .venv
source .venv/bin/activate          # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
pytest
```

`requirements.txt` pins the graders' versions. On Linux it takes torch's CPU-only build from PyTorch's CPU
index ({PYTORCH_CPU_INDEX}): no GPU is needed, and PyPI's Linux torch would bring several GB of CUDA
libraries. On macOS and Windows, PyPI's torch is used as it is.

`pytest` runs the public tests in `tests/` against your files and ends with a table of your progress: each
exercise, its public checks passed and the points at stake, then `K/{len(exercises)} exercises pass their public
checks`. `pytest -m {marker_name(example.id)}` runs exercise {example.id}'s tests alone (the markers are in the
table below). Every test fails until you implement its exercise. The graders run more checks than the public
tests (on other inputs, and more of each exercise), so passing them is necessary, not sufficient. The
tests need no GPU and no internet.
{try_section}
## What to hand in

```
python {HANDIN_SCRIPT}
```

writes `{HANDIN_ZIP}` holding exactly {files}, and first warns about any exercise whose stub still raises
`NotImplementedError`. Hand in `{HANDIN_ZIP}` through the course page (or the files themselves). Do not rename
them; nothing else is graded. Total: {assignment.points:g} points.

## Exercises

| exercise | marker | file | name | what | points |
|---|---|---|---|---|---|
{table}
"""


def _is_skipped(relative: PurePosixPath) -> bool:
    return any(part in _SKIPPED_NAMES or part.startswith(".") or part.endswith(".pyc") for part in relative.parts)


def collect_student_files(*, course_dir: Path, course: Course) -> dict[str, bytes]:
    """Every file of the student release, keyed by its path inside the release (posix, sorted)."""
    exercises = course_dir / "exercises"
    files: dict[str, bytes] = {}
    for path in sorted(exercises.glob("*.py")) + sorted(exercises.glob("pytest.ini")):
        if path.name in GENERATED_FILES:
            raise ReleaseError(
                f"{path}: the release writes {path.name} itself (coursekit.author.student_folder); remove it and put "
                "the public tests' fixtures in exercises/tests/conftest.py"
            )
        files[path.name] = path.read_bytes()
    for script in course.release.scripts:
        if script.file not in files:
            raise ReleaseError(f"{exercises / script.file} is missing: course.yml's release.scripts lists it")
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
    points = {
        exercise.id: share
        for part in course.assignment.parts
        for exercise, share in zip(part.exercises, exercise_points(part, course_dir=course_dir), strict=True)
    }
    for name, text in generated_files(course, points=points).items():
        files[name] = text.encode("utf-8")
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
    from coursekit.export.nbgrader import COURSE_ENVIRONMENT_VARIABLE

    assignment = course.assignment
    timeout = max(1, round(3 * course.limits.time_seconds))
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
# The course the grading kernel grades with: a test cell's hidden part gives the points its hidden graders give
# (coursekit.export.nbgrader.notebook_exercise_score). `coursekit release` copies it into grading/ beside this file.
import os  # noqa: E402

os.environ["{COURSE_ENVIRONMENT_VARIABLE}"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{GRADING_FOLDER}")
# A cell may run three times what course.yml allows one part of a hand-in (limits.time_seconds): the first test
# cell of a part grades the whole part in the kernel, after importing the graders (29 s for the first cell on 2
# cores at load 6; past 60 s at load 8, which zeroed the cell).
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
'''


# The folder of the nbgrader course that holds the course the grading kernel grades with (instructor-only).
GRADING_FOLDER = "grading"


def build_nbgrader_course(*, course_dir: Path, out_dir: Path) -> Path:
    """Write an nbgrader course into `out_dir` (nbgrader_config.py, source/<assignment>/); return the notebook path."""
    course = load_course(course_dir / "course.yml")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "nbgrader_config.py").write_text(nbgrader_config_text(course=course), encoding="utf-8")
    notebook_path = out_dir / "source" / course.assignment.id / f"{notebook_name(course)}.ipynb"
    notebook_path.parent.mkdir(parents=True, exist_ok=True)
    notebook = build_notebook(course_dir=course_dir, with_solutions=True)
    notebook_path.write_text(notebook_text(notebook), encoding="utf-8")
    # The given modules and data go beside the notebook (nbgrader releases them with it): the public tests' fixtures
    # load the data through them.
    for name in [*course.given, *course.data]:
        target = notebook_path.parent / (Path(name).name if name in course.given else name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(course_dir / name, target)
    # What the grading kernel grades with (nbgrader_config.py points it here): course.yml, graders/, given and data.
    grading = out_dir / GRADING_FOLDER
    if grading.exists():
        shutil.rmtree(grading)
    shutil.copytree(course_dir / "graders", grading / "graders", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ["course.yml", *course.given, *course.data]:
        (grading / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(course_dir / name, grading / name)
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
