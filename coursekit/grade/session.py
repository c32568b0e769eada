"""One pytest session over the graders per grading process: configured and collected once, run once per hand-in.

A fresh `pytest.main` per hand-in parses its arguments, registers its plugins and collects every grader module
again: about a fifth of the trusted side's work for a correct hand-in. `GraderSession` does that once and then
runs the collected tests through pytest's own test loop for each hand-in. Nothing carries over from one hand-in
to the next but what a fresh `pytest.main` in the same process kept too (the imported grader modules): each run
ends with its last test's teardown finalising every fixture, whatever its scope, and the grading plugin starts
each hand-in with no verdicts, attachments or student.

It drives pytest below `pytest.main` (`_prepareconfig`, the session's hooks), as pytest-xdist's workers do:
pyproject.toml pins pytest, and the graders' verdicts are checked to be the same as a fresh run's
(tests/grade/test_grader_session.py).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from _pytest.config import _prepareconfig
from _pytest.main import Session

from coursekit.config import Course
from coursekit.grade.plugin import GradingPlugin
from coursekit.grade.preflight import GraderSetupError, collection_error, grader_arguments
from coursekit.sandbox.student import Student


class HandinNotGraded(Exception):
    """Grading this hand-in could not finish (its grading process ran out of memory or died): no points are given,
    the hand-in is marked not graded, and a re-run grades it again."""


def _out_of_memory(error: BaseException) -> bool:
    """A MemoryError, or torch's allocator refusing (it raises RuntimeError)."""
    return isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and "allocate" in str(error) and "memory" in str(error)
    )


class _MemoryWatch:
    """Notices a grader test that ran out of the grading process's memory: the hand-in made it, the course did not."""

    def __init__(self) -> None:
        self.exhausted = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.excinfo is not None and _out_of_memory(call.excinfo.value):
            self.exhausted = True
        return report


class _NativeTracebacks:
    """Failed checks' tracebacks in Python's own form. pytest's default parses the source of every frame, about
    0.1 s per failed check (90% of grading the stubs), and no verdict reads it."""

    def pytest_configure(self, config: pytest.Config) -> None:
        config.option.tbstyle = "native"


class _CollectionErrors:
    """Records the grader files pytest could not collect: without its terminal plugin, pytest says nothing."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.graders_dir = Path(config.rootpath)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(collection_error(report, self.graders_dir))


class GraderSession:
    """The graders of `graders_dir`, configured only from graders/pytest.ini (`-c`, never anything inside a
    hand-in) and collected once; `run` grades one hand-in with them.

    Raises GraderSetupError when the graders cannot be collected. After a run that raised, the session is
    closed: a grading process makes a fresh one for its next hand-in.
    """

    def __init__(self, *, graders_dir: Path, course: Course) -> None:
        self.graders_dir = graders_dir
        self.plugin = GradingPlugin(course)
        self.memory = _MemoryWatch()
        collection = _CollectionErrors()
        self.closed = False
        with self._quiet() as captured:
            try:
                self.config = _prepareconfig(
                    grader_arguments(graders_dir), plugins=[self.plugin, self.memory, collection, _NativeTracebacks()]
                )
            except Exception as error:  # a usage error in graders/pytest.ini, a plugin that would not load
                raise self._setup_error(f"{type(error).__name__}: {error}") from error
            try:
                self.session = Session.from_config(self.config)
                self.config._do_configure()
                self.config.hook.pytest_sessionstart(session=self.session)
                self.config.hook.pytest_collection(session=self.session)
            except Exception as error:
                self.close()
                raise self._setup_error(f"{type(error).__name__}: {error}") from error
        if collection.errors or self.session.testsfailed or not self.session.items:
            self.close()
            last = captured.getvalue().strip().splitlines()[-1:]
            why = "\n".join(collection.errors) or ("no grader tests were collected " + " ".join(last)).strip()
            raise self._setup_error(why)

    def _setup_error(self, why: str) -> GraderSetupError:
        return GraderSetupError(f"the graders in {self.graders_dir} did not run:\n{why}")

    @staticmethod
    @contextlib.contextmanager
    def _quiet() -> Iterator[io.StringIO]:
        """pytest's own words (it prints usage errors and internal errors) kept off the instructor's terminal."""
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            yield captured

    def run(self, *, student_for_part: Callable[[str], Student], handin_dir: Path | None = None) -> GradingPlugin:
        """Run every collected grader test for one hand-in; return the plugin holding a verdict per test (until
        the next run, which starts it afresh).

        `handin_dir`: the unpacked hand-in, whose source graders may read (never run) on this side.
        """
        if self.closed:
            raise RuntimeError("this grader session is closed")
        self.plugin.begin(student_for_part, handin_dir)
        self.memory.exhausted = False
        # pytest's loop counts failed tests here, and refuses to start while it is non-zero (collection errors).
        self.session.testsfailed = 0
        self.session.shouldstop = self.session.shouldfail = False
        for item in self.session.items:
            item._report_sections = []  # captured output of the previous hand-in's run
        with self._quiet():
            try:
                self.config.hook.pytest_runtestloop(session=self.session)
            except (Exception, KeyboardInterrupt) as error:
                # A broken grader must stop the batch loudly, never grade everyone zero.
                self.close()
                raise self._setup_error(f"pytest stopped: {type(error).__name__}: {error}") from error
        if self.memory.exhausted:
            raise HandinNotGraded("grading this hand-in ran out of the grading process's memory")
        return self.plugin

    def close(self) -> None:
        """Finish pytest's session and configuration (its captures, its temporary files)."""
        if self.closed:
            return
        self.closed = True
        with self._quiet(), contextlib.suppress(Exception):
            if hasattr(self, "session"):
                self.config.hook.pytest_sessionfinish(session=self.session, exitstatus=pytest.ExitCode.OK)
            self.config._ensure_unconfigure()


def run_graders(
    *, graders_dir: Path, course: Course, student_for_part: Callable[[str], Student], handin_dir: Path | None = None
) -> GradingPlugin:
    """Run the hidden graders once for one student, in a session of their own."""
    graders = GraderSession(graders_dir=graders_dir, course=course)
    try:
        return graders.run(student_for_part=student_for_part, handin_dir=handin_dir)
    finally:
        graders.close()
