"""The course checked before anything is graded, exported or released: a mistake in the course is never a grade.

`course_problems` finds, without running a grader: a grader file that does not parse or cannot be collected
(named by file and line), a grader test without points or for an exercise course.yml does not have, a part whose
graders' points do not add up to course.yml's, and threshold names that course.yml and the graders do not
share. `verify_course` raises `CourseMistake` with one line per problem. `coursekit check`, `grade`, `export`
and `release` all read the graders' points from here (`collect_graders`): one source.
"""

from __future__ import annotations

import ast
import concurrent.futures.process
import contextlib
import dataclasses
import io
import math
import multiprocessing
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from coursekit.config import Course, load_course, threshold_name_problems
from coursekit.errors import CoursekitError
from coursekit.grade.fingerprint import MUTANTS_FOLDER, digest_files, files_below

# Plugins a grading run does not need; unraisableexception alone costs ~0.3 s a run in forced gc.collect().
UNUSED_PYTEST_PLUGINS = (
    "cacheprovider",
    "terminal",
    "unraisableexception",
    "threadexception",
    "junitxml",
    "pastebin",
    "doctest",
    "stepwise",
    "logging",
    "faulthandler",
)
# How graders read a threshold: course.thresholds["name"] (or .get("name")), on the `course` fixture.
THRESHOLDS_ATTRIBUTE = "thresholds"


class CourseMistake(CoursekitError, RuntimeError):
    """The course itself is wrong (its graders, course.yml): nothing is graded, exported or released with it."""


class GraderSetupError(CourseMistake):
    """The graders themselves could not run (a syntax error in graders/, a bad marker, a grader that raised): not
    the student's fault."""


def grader_arguments(graders_dir: Path) -> list[str]:
    """pytest's arguments for the graders: configured only by graders/pytest.ini, never by a hand-in."""
    return [
        str(graders_dir),
        "-c",
        str(graders_dir / "pytest.ini"),
        "--rootdir",
        str(graders_dir),
        *(f"-pno:{name}" for name in UNUSED_PYTEST_PLUGINS),
    ]


@dataclasses.dataclass(frozen=True)
class GraderTest:
    """One collected grader test: where it is, the exercise its points marker names and its points (None where
    the marker is missing or malformed, with `problem` saying why)."""

    nodeid: str
    location: str
    exercise: str | None
    points: float | None
    problem: str | None = None


@dataclasses.dataclass(frozen=True)
class GraderCollection:
    tests: tuple[GraderTest, ...]
    # "graders/test_grader.py:431: SyntaxError: invalid syntax", one per file that could not be collected.
    errors: tuple[str, ...]


# Collections by (graders folder, digest of its files): a changed grader is collected again.
_COLLECTIONS: dict[tuple[Path, str], GraderCollection] = {}


def collect_graders(graders_dir: Path, *, here: bool = False) -> GraderCollection:
    """Every grader test under `graders_dir`, collected (not run), and every file that would not parse or collect.

    Cached by the graders' content. Collected in a forked process, which forgets any grader modules it inherited:
    they keep their plain names (test_ops, ...) in sys.modules, so another course's graders would clash with these.
    With `here`, collected in this process, cache or not, and the grader modules stay imported: grade's warm-up,
    which the grading processes fork from, and whose collection the course's checks then reuse.
    """
    graders_dir = graders_dir.resolve()
    key = (graders_dir, digest_files(files_below(graders_dir), root=graders_dir))
    if here or key not in _COLLECTIONS:
        _COLLECTIONS[key] = _collected(graders_dir, here=here)
    return _COLLECTIONS[key]


def _collected(graders_dir: Path, *, here: bool) -> GraderCollection:
    syntax = _syntax_errors(graders_dir)
    if syntax:  # pytest would report the first of them buried in its own traceback
        return GraderCollection(tests=(), errors=tuple(syntax))
    if here:
        return _collect(graders_dir)
    context = multiprocessing.get_context("fork")
    # The submodule by its own name: pytester's in-process runs drop modules first imported inside them, and
    # the package's cached ProcessPoolExecutor would then pickle work items of a module no longer imported.
    with concurrent.futures.process.ProcessPoolExecutor(1, mp_context=context) as executor:
        return executor.submit(_collect, graders_dir).result()


def _shown(path: Path, graders_dir: Path) -> str:
    """A grader's path as the instructor knows it: graders/test_grader.py."""
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(graders_dir.parent).as_posix()
    return str(path)


def _syntax_errors(graders_dir: Path) -> list[str]:
    errors = []
    for path in files_below(graders_dir):
        if path.suffix != ".py":
            continue
        try:
            ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError as error:
            errors.append(f"{_shown(path, graders_dir)}:{error.lineno}: {type(error).__name__}: {error.msg}")
        except ValueError as error:  # null bytes
            errors.append(f"{_shown(path, graders_dir)}: cannot be parsed: {error}")
    return errors


class _Collector:
    def __init__(self, graders_dir: Path) -> None:
        self.graders_dir = graders_dir
        self.tests: list[GraderTest] = []
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(collection_error(report, self.graders_dir))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            path, line, _ = item.location
            location = f"{self.graders_dir.name}/{path}:{(line or 0) + 1}"
            marker = next(item.iter_markers(name="points"), None)
            exercise, points, problem = None, None, None
            if marker is None:
                problem = "has no @pytest.mark.points(value, exercise=...)"
            else:
                try:
                    points = float(marker.args[0])
                    exercise = str(marker.kwargs["exercise"])
                except (IndexError, KeyError, TypeError, ValueError):
                    problem = "its points marker is not points(value, exercise=...)"
                    points = None
            self.tests.append(GraderTest(item.nodeid, location, exercise, points, problem))


def collection_error(report: pytest.CollectReport, graders_dir: Path) -> str:
    """`graders/test_grader.py:431: NameError: name 'x' is not defined`: the deepest grader frame and the error."""
    where = report.nodeid or graders_dir.name
    chain = getattr(report.longrepr, "chain", None)
    if not chain:
        lines = str(report.longreprtext).strip().splitlines()
        return f"{where}: {lines[-1].removeprefix('E').strip() if lines else 'could not be collected'}"
    traceback, crash, _ = chain[-1]
    for entry in reversed(getattr(traceback, "reprentries", [])):
        location = getattr(entry, "reprfileloc", None)
        if location is None:
            continue
        path = Path(location.path)
        path = next((p for p in (path, Path.cwd() / path, graders_dir / path) if p.is_file()), path)
        if path.resolve().is_relative_to(graders_dir):
            where = f"{_shown(path, graders_dir)}:{location.lineno}"
            break
    message = crash.message.splitlines()[0] if crash is not None and crash.message else "could not be collected"
    return f"{where}: {message}"


def _collect(graders_dir: Path) -> GraderCollection:
    for path in graders_dir.glob("*.py"):  # this child may have inherited another course's graders
        sys.modules.pop(path.stem, None)
    collector = _Collector(graders_dir)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        status = pytest.main([*grader_arguments(graders_dir), "--collect-only"], plugins=[collector])
    errors = list(collector.errors)
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) and not errors:
        last = captured.getvalue().strip().splitlines()
        errors.append(f"{graders_dir.name}: pytest could not collect the graders ({last[-1] if last else status!r})")
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        errors.append(f"{graders_dir.name}: no grader tests were found")
    return GraderCollection(tests=tuple(collector.tests), errors=tuple(errors))


def grader_points(graders_dir: Path) -> dict[str, float]:
    """Points per exercise id, as the hidden graders give them (collected, not run); GraderSetupError where the
    graders cannot be collected."""
    collection = collect_graders(graders_dir)
    if collection.errors:
        raise GraderSetupError("\n".join(collection.errors))
    points: dict[str, float] = defaultdict(float)
    for test in collection.tests:
        if test.exercise is not None and test.points is not None:
            points[test.exercise] += test.points
    return dict(points)


def points_problems(course: Course, collection: GraderCollection) -> list[str]:
    """A line per part whose graders' points do not add up to course.yml's, per grader test whose marker is missing
    or names no exercise of course.yml, and per exercise with no grader test."""
    problems = [f"{test.location}: {test.nodeid} {test.problem}" for test in collection.tests if test.problem]
    part_of = {exercise.id: part.id for part in course.assignment.parts for exercise in part.exercises}
    given: dict[str, float] = defaultdict(float)
    tested = set()
    for test in collection.tests:
        if test.exercise is None or test.points is None:
            continue
        if test.exercise not in part_of:
            known = ", ".join(part_of)
            problems.append(f"{test.location}: exercise {test.exercise!r} is not in course.yml (it has {known})")
            continue
        given[part_of[test.exercise]] += test.points
        tested.add(test.exercise)
    for part in course.assignment.parts:
        if not math.isclose(given[part.id], part.points, abs_tol=1e-9):
            problems.append(
                f"part {part.id}: the graders give {given[part.id]:g} points, course.yml gives {part.points:g}"
            )
        for exercise in part.exercises:
            if exercise.id not in tested:
                problems.append(f"exercise {exercise.id} ({exercise.name}, part {part.id}) has no grader test")
    return list(dict.fromkeys(problems))  # a parametrized test repeats its location


def thresholds_read(graders_dir: Path, *, skip: tuple[Path, ...] = ()) -> dict[str, list[str]]:
    """The threshold names the graders' code reads, each with where: `<x>.thresholds["name"]` and
    `<x>.thresholds.get("name")`. A name computed at run time cannot be checked: it is reported as "?"."""
    read: dict[str, list[str]] = defaultdict(list)
    for path in files_below(graders_dir):
        if path.suffix != ".py" or any(path.is_relative_to(folder) for folder in skip):
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue  # reported by the collection
        for node in ast.walk(tree):
            key: ast.expr | None = None
            if not isinstance(node, ast.expr):
                continue
            if isinstance(node, ast.Subscript) and _is_thresholds(node.value):
                key = node.slice
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and _is_thresholds(node.func.value)
                and node.args
            ):
                key = node.args[0]
            if key is None:
                continue
            name = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else "?"
            read[name].append(f"{_shown(path, graders_dir)}:{node.lineno}")
    return dict(read)


def _is_thresholds(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == THRESHOLDS_ATTRIBUTE


def missing_files(course_dir: Path, course: Course) -> list[str]:
    """The files course.yml names for grading (given modules, data, the chapter's probes and figure) that are not in
    the course folder. The notebook's finale is the release's to check: grading never reads it."""
    chapter = course.chapter
    named = [("given", path) for path in course.given] + [("data", path) for path in course.data]
    named += [(f"chapter.{key}", getattr(chapter, key)) for key in ("probes", "figure")]
    return [
        f"course.yml's {key}: {path} is not a file in {course_dir}"
        for key, path in named
        if path is not None and not (course_dir / path).is_file()
    ]


def verify_course_files(course_dir: Path, course: Course) -> None:
    """Raise CourseMistake when a file course.yml names is missing: the check that needs no grader run."""
    problems = missing_files(course_dir.resolve(), course)
    if problems:
        raise CourseMistake("\n".join(problems))


def course_problems(course_dir: Path, course: Course | None = None) -> list[str]:
    """Everything wrong with the course that no grading would reveal fairly; [] when it may be graded."""
    course_dir = course_dir.resolve()
    course = course or load_course(course_dir / "course.yml")
    missing = missing_files(course_dir, course)
    if missing:
        return missing
    graders = course_dir / "graders"
    if not (graders / "pytest.ini").is_file():
        return [f"{graders}/pytest.ini not found: the graders run with that configuration only"]
    collection = collect_graders(graders)
    if collection.errors:
        return list(collection.errors)
    skip = [graders / MUTANTS_FOLDER]
    if course.chapter.notebook_finale is not None:
        skip.append(course_dir / course.chapter.notebook_finale)
    read = thresholds_read(graders, skip=tuple(skip))
    problems = points_problems(course, collection)
    computed = read.pop("?", [])
    problems += [f"{where}: reads course.thresholds with a computed name; name it literally" for where in computed]
    problems += threshold_name_problems(course_dir / "course.yml", course, read)
    return problems


def verify_course(course_dir: Path, course: Course | None = None) -> None:
    """Raise CourseMistake, one line per problem, when the course cannot be graded, exported or released as is."""
    problems = course_problems(course_dir, course)
    if problems:
        raise CourseMistake("\n".join(problems))
