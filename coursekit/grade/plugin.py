"""The pytest plugin that turns grader tests into verdicts.

Graders are ordinary pytest tests marked ``@pytest.mark.points(2, exercise="1.1")`` that take a
`student` fixture. The plugin supplies that fixture (one student handle per part, from
`student_for_part`) and `handin_source` (the hand-in's source as the trusted side read it, for checks that
read code rather than run it), and records one `Verdict` per test. A verdict's message is what the student
reads: the grader's hint for a failed check or the student's own error, never the grader's code.
``@pytest.mark.public`` marks a check that mirrors a public test in exercises/tests: its verdict says so, and
Gradescope shows it when course.yml's ``gradescope.visibility.public_checks`` says.

For instructors: ``pytest -p coursekit.grade.plugin graders --handin solutions`` runs the graders in-process.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from coursekit.config import Course, load_course
from coursekit.escaping import MAX_MESSAGE_CHARS, cut
from coursekit.grade.source_check import HandinSource
from coursekit.sandbox.pool import WorkerError
from coursekit.sandbox.student import InProcessStudent, Student, StudentError

MARKERS = (
    'points(value, exercise): points a grader test is worth, and the exercise id it judges (e.g. "1.2")',
    "public: this check mirrors a public test in exercises/tests (course.yml's gradescope.visibility.public_checks)",
)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One grader test's outcome for one hand-in."""

    test_id: str
    name: str
    exercise: str
    part: str
    max_score: float
    score: float
    passed: bool
    message: str
    # True when the grader itself broke (not the student's code): the instructor must look.
    grader_error: bool = False
    # True when the check mirrors a public test (marked @pytest.mark.public): its hint tells nothing new.
    public: bool = False
    # For the instructor alone, when the grader broke: its exception and the grader line that raised it,
    # "KeyError: 'held_out' at graders/test_grader.py:414".
    grader_exception: str = ""


def student_message(error: BaseException) -> tuple[str, bool]:
    """(message for the student, whether the grader itself failed) for an exception raised in a grader test."""
    if isinstance(error, StudentError):
        return error.message, False
    if isinstance(error, AssertionError):
        # pytest's rewriting appends "\nassert <expression>": that is the hidden test's code, not a hint.
        hint = str(error).split("\nassert ", 1)[0].strip()
        if hint.startswith("assert "):
            hint = ""
        return hint or "this check failed", False
    if isinstance(error, pytest.fail.Exception):
        return str(error.msg), False
    return f"the grader could not run this check ({type(error).__name__}); your instructor has been told", True


class GradingPlugin:
    """Supplies `student`, `handin_source` and `course` fixtures and records a Verdict per grader test."""

    def __init__(
        self,
        course: Course,
        student_for_part: Callable[[str], Student] | None = None,
        handin_dir: Path | None = None,
    ) -> None:
        self.course_config = course
        # Each test's (exercise, part, points), by node id: asked for by every fixture and report of the test.
        self._parts: dict[str, tuple[str, str, float]] = {}
        self.begin(student_for_part, handin_dir)

    def begin(self, student_for_part: Callable[[str], Student] | None, handin_dir: Path | None = None) -> None:
        """Start grading a hand-in: no verdicts or attachments yet, and this hand-in's student and source."""
        self.student_for_part = student_for_part
        # Read before any of the student's code runs, from the folder intake wrote (the sandbox never writes it).
        self.source = HandinSource.read(handin_dir) if handin_dir is not None else None
        self.verdicts: list[Verdict] = []
        # Plain data a grader hands to the feedback ("figure": what course.yml's chapter.figure draws), and the
        # part of the grader that attached each.
        self.attachments: dict[str, Any] = {}
        self.attached_by: dict[str, str] = {}
        # The sandbox pool itself failed during a check (a worker that would not start): neither the course's
        # mistake nor the student's, the hand-in is not graded.
        self.pool_failure: str | None = None

    def part_of(self, item: pytest.Item) -> tuple[str, str, float]:
        if item.nodeid not in self._parts:
            self._parts[item.nodeid] = self._part_of(item)
        return self._parts[item.nodeid]

    def _part_of(self, item: pytest.Item) -> tuple[str, str, float]:
        marker = closest_marker(item, "points")
        if marker is None:
            raise pytest.UsageError(f"{item.nodeid}: grader tests need @pytest.mark.points(value, exercise=...)")
        exercise = str(marker.kwargs.get("exercise"))
        try:
            part, _ = self.course_config.assignment.exercise(exercise)
        except KeyError:
            raise pytest.UsageError(f"{item.nodeid}: exercise {exercise!r} is not in course.yml") from None
        return exercise, part.id, float(marker.args[0])

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> Student:
        _, part, _ = self.part_of(request.node)
        if self.student_for_part is None:
            raise RuntimeError("this grading run was started without a hand-in")
        return self.student_for_part(part)

    @pytest.fixture
    def handin_source(self) -> HandinSource:
        """The hand-in's modules as the trusted side holds them; a grader reads them, never runs them."""
        if self.source is None:
            raise RuntimeError("this grading run was started without the hand-in's folder")
        return self.source

    @pytest.fixture
    def attach(self, request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
        """`attach(name, plain_data)`: keep data for the student's feedback (the grading pipeline renders it), shown
        under the part of the grader that attached it."""
        _, part, _ = self.part_of(request.node)

        def attach(name: str, data: Any) -> None:
            self.attachments[name] = data
            self.attached_by[name] = part

        return attach

    @pytest.fixture
    def course(self) -> Course:
        return self.course_config

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.part_of(item)  # fail at collection, not mid-batch, on a grader without points

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        failed_setup = call.when == "setup" and report.failed
        if call.when == "call" or failed_setup:
            exercise, part, points = self.part_of(item)
            message, grader_error, grader_exception = "", False, ""
            if report.failed and call.excinfo is not None:
                message, grader_error = student_message(call.excinfo.value)
                if grader_error and isinstance(call.excinfo.value, WorkerError):
                    self.pool_failure = str(call.excinfo.value)
                if grader_error:
                    grader_exception = cut(where_raised(call.excinfo, Path(item.config.rootpath)), MAX_MESSAGE_CHARS)
            elif report.skipped:
                message = "skipped"
            passed = report.passed
            self.verdicts.append(
                Verdict(
                    test_id=item.nodeid,
                    name=test_name(item, exercise),
                    exercise=exercise,
                    part=part,
                    max_score=points,
                    score=points if passed else 0.0,
                    passed=passed,
                    # Graders quote the student's values in messages: a repr of megabytes stops here.
                    message=cut(message, MAX_MESSAGE_CHARS),
                    grader_error=grader_error,
                    public=closest_marker(item, "public") is not None,
                    grader_exception=grader_exception,
                )
            )
        return report


def where_raised(excinfo: pytest.ExceptionInfo[BaseException], graders_dir: Path) -> str:
    """ "KeyError: 'x' at graders/test_grader.py:414": the exception and the deepest grader line it passed."""
    error = excinfo.value
    what = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    text = what[-1] if what else type(error).__name__
    graders_dir = graders_dir.resolve()
    for entry in reversed(excinfo.traceback):
        path = Path(entry.path)
        if path.is_absolute() and path.resolve().is_relative_to(graders_dir):
            shown = path.resolve().relative_to(graders_dir.parent).as_posix()
            return f"{text} at {shown}:{entry.lineno + 1}"
    return text


def closest_marker(item: pytest.Item, name: str) -> pytest.Mark | None:
    """The marker `name` nearest to the test (the test's own before its class's or module's), or None."""
    return next(item.iter_markers(name=name), None)


def test_name(item: pytest.Item, exercise: str) -> str:
    """'1.1 square matches x * x in value [float32]': the exercise id, the docstring's first line, the case."""
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    title = doc[0].rstrip(".") if doc else item.name.split("[")[0].removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    case = f" [{callspec.id}]" if callspec is not None else ""
    return f"{exercise} {title}{case}"


# --- entry points when loaded with `pytest -p coursekit.grade.plugin` ---------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("coursekit")
    group.addoption("--handin", type=Path, help="grade this hand-in folder in-process (for debugging graders)")
    group.addoption("--course", type=Path, help="course.yml (default: the one beside graders/)")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    handin = config.getoption("handin", default=None)
    if handin is not None and not config.pluginmanager.has_plugin("coursekit-grading"):
        course_path = config.getoption("course") or Path(config.rootpath) / "course.yml"
        if not course_path.exists():
            course_path = Path(config.rootpath).parent / "course.yml"
        course = load_course(course_path)
        probes = course.chapter.probes
        student = InProcessStudent(handin, probes_file=None if probes is None else course_path.parent / probes)
        plugin = GradingPlugin(course, lambda _part: student, handin_dir=handin)
        config.pluginmanager.register(plugin, "coursekit-grading")
