"""`coursekit grade`: grade a whole class, one hand-in per student, with verdicts no student code can touch.

The pipeline, in order, per hand-in:
  1. intake: unpack the hand-in safely into a clean folder (coursekit.intake.handin), problems become messages;
  2. graders: pytest runs graders/ in a trusted grading process; every call into the student's code goes to a
     sandboxed worker session, one per part (coursekit.sandbox.pool), and only plain data comes back;
  3. results: results/<id>.json (Gradescope schema), feedback/<id>.md (with the picture course.yml's
     chapter.figure draws from a grader's "figure" attachment), then grades.csv for the class.

Hand-ins are spread over `jobs` grading processes, each with its own warm sandboxed worker. A hand-in whose
grading process fails is recorded with an error, never dropped; the batch always finishes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from coursekit.config import Course, Limits, load_course
from coursekit.errors import CoursekitError
from coursekit.grade.fingerprint import Fingerprint, course_fingerprint, handin_fingerprint
from coursekit.grade.plugin import GradingPlugin
from coursekit.grade.preflight import (
    CourseMistake,
    GraderSetupError,
    collect_graders,
    verify_course,
    verify_course_files,
)
from coursekit.grade.preflight import grader_points as grader_points
from coursekit.grade.results import (
    StudentResult,
    graded_students,
    read_student_result,
    write_grades_csv,
    write_student_result,
)
from coursekit.grade.session import GraderSession, HandinNotGraded, run_graders
from coursekit.intake.collect import read_late_csv
from coursekit.intake.handin import discover_handins, unpack_handin
from coursekit.sandbox import wire
from coursekit.sandbox.pool import Isolation, WorkerPool, WorkerSession, course_probes_file
from coursekit.sandbox.probes import load_course_probes
from coursekit.sandbox.student import Student


class UnknownStudentError(CoursekitError, ValueError):
    """``--student`` names no hand-in of the submissions folder."""


# The batch's warm workers, started once in the parent before the grading processes fork from it;
# each grading process takes one slot and is the only one to use it.
_batch_pool: WorkerPool | None = None
_batch_course_dir: Path | None = None
_batch_course: Course | None = None
_batch_keep_going = False


def _limit_memory(budget_mb: int) -> None:
    """Cap this process's address space at what it has mapped now plus `budget_mb`."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            limit = int(line.split()[1]) * 1024 + budget_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            return


def _grading_process(connection: multiprocessing.connection.Connection, slot: int) -> None:
    """A trusted grading process: grade the hand-ins it is sent, one at a time, through its own slot."""
    assert _batch_pool is not None and _batch_course_dir is not None and _batch_course is not None
    # A correct hand-in needs about 300 MB here; an answer is at most the wire's 16 MiB, so graders stay far below.
    _limit_memory(_batch_pool.limits.grading_memory_mb)
    # pytest configured and the graders collected at the first hand-in, then reused for every other.
    graders: GraderSession | None = None
    while True:
        try:
            task = connection.recv()
        except EOFError:
            task = None
        if task is None:
            if graders is not None:
                graders.close()
            return
        student_id, handin_dir, problems, late = task
        try:
            if graders is None or graders.closed:
                graders = GraderSession(graders_dir=_batch_course_dir / "graders", course=_batch_course)
            reply: tuple[str, Any] = (
                "result",
                grade_handin(
                    student_id=student_id,
                    handin_dir=Path(handin_dir),
                    problems=problems,
                    late=late,
                    course_dir=_batch_course_dir,
                    course=_batch_course,
                    pool=_batch_pool,
                    slot=slot,
                    keep_going=_batch_keep_going,
                    graders=graders,
                ),
            )
        except HandinNotGraded as error:
            reply = ("not graded", str(error))
        except GraderSetupError as error:
            reply = ("course error", str(error))
        except MemoryError:
            reply = ("not graded", "grading this hand-in ran out of the grading process's memory")
        except Exception as error:
            reply = ("course error", f"grading {student_id} failed: {where_raised_here(error)}")
        connection.send(reply)


@functools.cache
def _course_of(course_dir: Path) -> Course:
    """course.yml, read once per grading process (it does not change during a batch)."""
    return load_course(course_dir / "course.yml")


def load_course_code(course_dir: Path, course: Course) -> None:
    """Register the course's probes on this side (their answer forms) and import its figure module."""
    probes = course_probes_file(course_dir, course)
    if probes is not None:
        load_course_probes(probes)
    if course.chapter.figure is not None:
        _figure_function((course_dir / course.chapter.figure).resolve())


FIGURE_ATTACHMENT = "figure"
FIGURE_MODULE = "course_figure"


@functools.cache
def _figure_function(path: Path) -> Callable[[Any], bytes | None]:
    """`figure_png` of the course's figure module (course.yml's chapter.figure), imported once per process."""
    spec = importlib.util.spec_from_file_location(FIGURE_MODULE, path)
    if spec is None or spec.loader is None:
        raise GraderSetupError(f"{path} cannot be imported as the course's figure module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[FIGURE_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(FIGURE_MODULE, None)
        raise GraderSetupError(f"{path} could not be imported: {type(error).__name__}: {error}") from error
    function = getattr(module, "figure_png", None)
    if not callable(function):
        raise GraderSetupError(f"{path} does not define figure_png(data)")
    return function


def figure_attachment(plugin: GradingPlugin, *, course: Course) -> tuple[bytes | None, str | None]:
    """The graders' "figure" attachment, wire-encoded to travel to where results are written, and the part that
    attached it; (None, None) when nothing was attached or the course draws no figure."""
    if FIGURE_ATTACHMENT not in plugin.attachments or course.chapter.figure is None:
        return None, None
    try:
        data = wire.encode(plugin.attachments[FIGURE_ATTACHMENT])
    except wire.WireError as error:
        raise GraderSetupError(f"the graders' {FIGURE_ATTACHMENT!r} attachment is not plain data: {error}") from error
    return data, plugin.attached_by[FIGURE_ATTACHMENT]


def with_figure(result: StudentResult, *, course_dir: Path, course: Course) -> StudentResult:
    """`result` with the PNG the course's figure module draws from its graders' attachment.

    Drawn where results are written, not while grading: the grading process goes on to the next hand-in, and
    `check`, which writes no feedback, draws nothing.
    """
    if result.figure_data is None or course.chapter.figure is None:
        return result
    draw = _figure_function((course_dir / course.chapter.figure).resolve())
    try:
        png = draw(wire.decode(result.figure_data))
    except Exception as error:  # the course's code, on data its own grader chose to attach
        raise GraderSetupError(f"{course.chapter.figure}: figure_png raised {type(error).__name__}: {error}") from error
    if png is not None and not isinstance(png, bytes):
        raise GraderSetupError(f"{course.chapter.figure}: figure_png returned {type(png).__name__}, not bytes or None")
    return dataclasses.replace(result, figure_png=png, figure_data=None)


def grade_handin(
    *,
    student_id: str,
    handin_dir: Path,
    course_dir: Path,
    pool: WorkerPool,
    slot: int = 0,
    problems: tuple[str, ...] = (),
    late: bool = False,
    keep_going: bool = False,
    graders: GraderSession | None = None,
    course: Course | None = None,
) -> StudentResult:
    """Grade one unpacked hand-in through `pool`'s `slot`: one sandboxed worker session per part; with
    `graders`, in that pytest session over the course's graders (a grading process's, reused for each hand-in).
    `course`: course_dir's course.yml as the batch read it (by default, read here).

    A grader that raises (not the student's code through a probe) is the course's mistake: GraderSetupError, with
    the exception and the grader's line; with `keep_going`, the hand-in is marked not graded instead.
    """
    course = course or _course_of(course_dir)
    load_course_code(course_dir, course)
    started = time.perf_counter()
    sessions: dict[str, WorkerSession] = {}

    def student_for_part(part: str) -> Student:
        if part not in sessions:
            # Parts run one after another: close the previous part's worker before starting the next.
            for other in list(sessions.values()):
                other.close()
            sessions[part] = pool.session(slot=slot, handin_dir=handin_dir, part=part)
        return sessions[part]

    try:
        if graders is None:
            plugin = run_graders(
                graders_dir=course_dir / "graders",
                course=course,
                student_for_part=student_for_part,
                handin_dir=handin_dir,
            )
        else:
            plugin = graders.run(student_for_part=student_for_part, handin_dir=handin_dir)
    finally:
        for session in sessions.values():
            session.close()
    if plugin.pool_failure is not None:
        raise HandinNotGraded(f"the sandbox failed while grading it: {plugin.pool_failure}")
    broken = [verdict for verdict in plugin.verdicts if verdict.grader_error]
    if broken and not keep_going:
        first = broken[0]
        more = f" (and {len(broken) - 1} more checks)" if len(broken) > 1 else ""
        raise GraderSetupError(
            f"a grader raised while grading {student_id}: {first.grader_exception} in {first.name}{more}; "
            "fix the grader, or grade with --keep-going to mark such checks not graded"
        )
    output = {part: session.output for part, session in sessions.items()}
    figure_data, figure_part = figure_attachment(plugin, course=course)
    return StudentResult(
        student_id=student_id,
        verdicts=tuple(plugin.verdicts),
        problems=problems,
        output=output,
        execution_time=time.perf_counter() - started,
        late=late,
        figure_data=figure_data,
        figure_part=figure_part,
        isolation=pool.tier,
        not_graded=GRADER_BROKE if broken else None,
    )


# What a student reads when a grader broke on their hand-in (the details are the instructor's, in extra_data).
GRADER_BROKE = "a check's grader failed, the course's mistake and not yours"


def where_raised_here(error: BaseException) -> str:
    """ "NameError: name 'x' is not defined at graders/fit_figure.py:12" for an error on the trusted side."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()[-1:]
    frames = traceback.extract_tb(error.__traceback__)
    course = [frame for frame in frames if "coursekit" not in Path(frame.filename).parts]
    where = f" at {course[-1].filename}:{course[-1].lineno}" if course else ""
    return f"{' '.join(text) or type(error).__name__}{where}"


def failed_result(*, student_id: str, problems: tuple[str, ...], late: bool) -> StudentResult:
    """Zero in every check, with the reason, for a hand-in that could not be graded at all."""
    return StudentResult(student_id=student_id, verdicts=(), problems=problems, late=late)


def not_graded_result(*, student_id: str, problems: tuple[str, ...], late: bool, reason: str) -> StudentResult:
    """No points and no verdicts, marked not graded: the export leaves it out and a re-run grades it again."""
    return StudentResult(student_id=student_id, verdicts=(), problems=problems, late=late, not_graded=reason)


@dataclasses.dataclass
class ClassReport:
    """What a batch did: every student's result, who was skipped as already graded, who was regraded because what
    they were graded with changed (and what changed), the isolation in force, and what the canary cost."""

    results: list[StudentResult]
    graded: list[str]
    resumed: list[str]
    skipped_entries: list[Path]
    isolation_note: str | None
    grades_csv: Path
    seconds: float
    # student id -> what changed since their results file was written ("hand-in", "graders", ...)
    regraded: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # Seconds from the batch's start until the reference solutions' grading was judged; None when it did not run.
    canary_seconds: float | None = None


def grade_class(
    *,
    course_dir: Path,
    submissions_dir: Path,
    out_dir: Path,
    jobs: int | None = None,
    student: str | None = None,
    force: bool = False,
    limits: Limits | None = None,
    isolation: Isolation = "auto",
    on_progress: Callable[[str, int, int], None] | None = None,
    pool: WorkerPool | None = None,
    keep_going: bool = False,
    canary: bool = True,
) -> ClassReport:
    """Grade every hand-in in `submissions_dir` into `out_dir`; return the class report.

    Nothing is graded when the course itself is wrong (`verify_course`: CourseMistake). Before the class, the
    reference solutions (the course's solutions/, when it has them and `canary`) are graded through the same
    workers; if they do not get full marks, CanaryFailed stops the batch and no result is written. A grader that
    raises stops the batch (GraderSetupError); with `keep_going` that hand-in is marked not graded instead.

    A re-run skips students whose results/<id>.json was graded with the same course.yml, graders, kit version and
    hand-in (its fingerprint; an interrupted batch resumes) unless `force`, and regrades the others.
    `student` grades that one student only. `on_progress(student_id, done, total)` is called after each.
    `pool`: warm workers the caller started already (then `jobs`, `limits` and `isolation` are the pool's);
    by default the batch starts its own.
    """
    started = time.perf_counter()
    course_dir = course_dir.resolve()
    course = load_course(course_dir / "course.yml")
    limits = limits or course.limits
    verify_course_files(course_dir, course)  # the rest of verify_course runs beside the workers' start
    jobs = jobs or os.cpu_count() or 1
    entries, skipped_entries = discover_handins(submissions_dir=submissions_dir)
    if student is not None:
        entries = [(sid, path) for sid, path in entries if sid == student]
        if not entries:
            raise UnknownStudentError(f"no hand-in for student {student!r} in {submissions_dir}")
    lateness = read_late_csv(submissions_dir)
    late_flags = {student_id: entry.late for student_id, entry in lateness.items()}
    shared = course_fingerprint(course_dir, course)
    results: dict[str, StudentResult] = {}
    resumed: list[str] = []
    regraded: dict[str, list[str]] = {}
    fingerprints: dict[str, Fingerprint] = {}
    todo: list[tuple[str, Path]] = []
    for student_id, source in entries:
        fingerprints[student_id] = fingerprint = shared.with_handin(handin_fingerprint(source))
        previous = None if force else read_student_result(out_dir, student_id)
        if previous is not None and previous.not_graded is None:
            changed = fingerprint.changes_from(previous.fingerprint)
            if not changed:
                results[student_id] = previous
                resumed.append(student_id)
                continue
            regraded[student_id] = changed
        todo.append((student_id, source))

    note: str | None = None
    slots = max(1, min(jobs, len(todo)))
    reference = course_dir / "solutions"
    timing: dict[str, float] = {}
    with _scratch_space() as scratch, contextlib.ExitStack() as stack:
        probes = course_probes_file(course_dir, course)
        if pool is None:
            pool = WorkerPool(
                limits=limits, scratch_dir=scratch / "workers", slots=slots, isolation=isolation, probes_file=probes
            )
            stack.enter_context(pool)
            if todo:
                # The workers take seconds to start (torch, in their sandboxes): they start now, beside this
                # process's own imports and the course's checks, rather than after them.
                pool.start()
        elif pool.probes_file != (None if probes is None else probes.resolve()):
            raise ValueError(f"the worker pool was started with {pool.probes_file}, not the course's probes {probes}")
        # The graders collected once, here, where the grading processes fork from; the course's checks read that
        # collection. A course mistake stops the batch before OUT is even made.
        warm = bool(todo)
        if warm:
            _warm_up(course_dir, course)
        else:
            _import_grading_libraries()
        verify_course(course_dir, course)
        out_dir.mkdir(parents=True, exist_ok=True)
        done = len(resumed)
        batch = _grade_all(
            todo,
            pool=pool,
            course=course,
            course_dir=course_dir,
            scratch=scratch,
            late_flags=late_flags,
            keep_going=keep_going,
            reference=reference if canary and todo and reference.is_dir() else None,
            warm=warm,
            on_canary=lambda: timing.setdefault("canary", time.perf_counter() - started),
        )
        for result in batch:
            result = dataclasses.replace(result, fingerprint=fingerprints[result.student_id])
            if result.late and result.student_id in lateness:
                result = dataclasses.replace(result, days_late=lateness[result.student_id].days_late)
            result = with_figure(result, course_dir=course_dir, course=course)
            write_student_result(result, course=course, out_dir=out_dir)
            results[result.student_id] = result
            done += 1
            if on_progress is not None:
                on_progress(result.student_id, done, len(entries))
        note = pool.isolation_note() if todo else None
    # grades.csv holds every student ever graded into this folder, not only this run's.
    for student_id in graded_students(out_dir):
        earlier = results.get(student_id) or read_student_result(out_dir, student_id)
        if earlier is not None:
            results[student_id] = earlier
    ordered = [results[key] for key in sorted(results)]
    csv_path = write_grades_csv(ordered, course=course, out_dir=out_dir)
    return ClassReport(
        results=ordered,
        graded=[sid for sid, _ in todo],
        resumed=resumed,
        skipped_entries=skipped_entries,
        isolation_note=note,
        grades_csv=csv_path,
        seconds=time.perf_counter() - started,
        regraded=regraded,
        canary_seconds=timing.get("canary"),
    )


def out_of_date_results(out_dir: Path, *, course_dir: Path) -> dict[str, list[str]]:
    """The results under OUT graded with another course.yml, other graders or another kit version than the course
    holds now: student id -> what changed. Results without a fingerprint are not judged."""
    course_dir = course_dir.resolve()
    shared = course_fingerprint(course_dir, load_course(course_dir / "course.yml"))
    stale: dict[str, list[str]] = {}
    for student_id in graded_students(out_dir):
        result = read_student_result(out_dir, student_id)
        if result is None or result.fingerprint is None:
            continue
        now = shared.with_handin(result.fingerprint.handin)
        changed = now.changes_from(result.fingerprint)
        if changed:
            stale[student_id] = changed
    return stale


class CanaryFailed(CourseMistake):
    """The reference solutions did not get full marks: the course is broken, not the class."""


# How a part's timeout reads (coursekit.sandbox.pool): "<function> did not return within 60 s".
TIMEOUT_MESSAGE = "did not return within"


def canary_problems(result: StudentResult, course: Course) -> list[str]:
    """Why the reference solutions' result is not full marks; [] when it is."""
    if result.not_graded is not None:
        return [f"not graded: {result.not_graded}", *result.grader_errors]
    problems = [f"intake: {problem}" for problem in result.problems]
    problems += [
        f"{verdict.name}: {verdict.grader_exception or verdict.message}"
        for verdict in result.verdicts
        if not verdict.passed
    ]
    scores = result.part_scores(course)
    for part in course.assignment.parts:
        if abs(scores[part.id] - part.points) > 1e-9 and not problems:
            problems.append(f"part {part.id}: {scores[part.id]:g} of {part.points:g} points")
    return problems


@contextlib.contextmanager
def _scratch_space() -> Iterator[Path]:
    """A private scratch folder for unpacked hand-ins and worker sessions, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="coursekit-grade-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _import_grading_libraries() -> None:
    """What the graders import, once per process, before the collection and the grading processes fork."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import torch

    # Autograd's engine starts at the first backward; the graders replay training. A gradient taken against given
    # output gradients (the graders' value-and-gradient checks) imports torch's symbolic shapes and sympy, about
    # 0.35 s: once here, not in each grading process at its first hand-in.
    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()
    torch.autograd.grad(x * x, x, grad_outputs=torch.ones(2))


def _warm_up(course_dir: Path, course: Course) -> None:
    """Import pytest's machinery, the graders and the course's own code once, before the grading processes fork
    from this one (the collection forgets first any grader modules of the same names, another course's)."""
    load_course_code(course_dir, course)
    _import_grading_libraries()
    collect_graders(course_dir / "graders", here=True)


def _unpack(
    student_id: str, source: Path, *, course: Course, course_dir: Path, dest_dir: Path
) -> tuple[Path, tuple[str, ...]]:
    handin = unpack_handin(student_id=student_id, source=source, dest_dir=dest_dir, course=course, limits=course.intake)
    # The course's given modules, never the student's copies.
    for given in course.given:
        shutil.copy2(course_dir / given, handin.directory / Path(given).name)
    return handin.directory, tuple(problem.message for problem in handin.problems)


# An unpacked hand-in ready to grade: (student id, folder, problems with the hand-in, late).
Task = tuple[str, Path, tuple[str, ...], bool]


def _grade_all(
    todo: list[tuple[str, Path]],
    *,
    pool: WorkerPool,
    course: Course,
    course_dir: Path,
    scratch: Path,
    late_flags: dict[str, bool],
    keep_going: bool = False,
    reference: Path | None = None,
    warm: bool = False,
    on_canary: Callable[[], object] | None = None,
) -> Iterator[StudentResult]:
    """Yield each student's result as soon as it is ready, in completion order; with `reference`, only once that
    hand-in (the course's solutions, through intake as any folder) got full marks."""
    unpacked: list[Task] = []
    failed: list[StudentResult] = []
    for student_id, source in todo:
        late = late_flags.get(student_id, False)
        try:
            directory, problems = _unpack(
                student_id, source, course=course, course_dir=course_dir, dest_dir=scratch / "handins" / student_id
            )
        except Exception as error:  # intake reports problems itself; anything else must still give a row
            problems = (f"the hand-in could not be read: {error}",)
            failed.append(failed_result(student_id=student_id, problems=problems, late=late))
            continue
        unpacked.append((student_id, directory, problems, late))
    canary: Task | None = None
    if reference is not None:
        folder, problems = _unpack(
            "reference", reference, course=course, course_dir=course_dir, dest_dir=scratch / "reference"
        )
        canary = ("reference solutions", folder, problems, False)
    graded = _grade_unpacked(
        unpacked, pool=pool, course=course, course_dir=course_dir, keep_going=keep_going, canary=canary, warm=warm
    )
    if canary is not None:
        next(graded)  # None once the canary got full marks; CanaryFailed if it did not
        if on_canary is not None:
            on_canary()
    yield from failed
    yield from (result for result in graded if result is not None)


def _grade_unpacked(
    unpacked: list[Task],
    *,
    pool: WorkerPool,
    course: Course,
    course_dir: Path,
    keep_going: bool = False,
    canary: Task | None = None,
    warm: bool = False,
) -> Iterator[StudentResult | None]:
    """Grade hand-in folders ready to grade; yield results as they finish. With `canary`, the first item yielded
    is None once the canary got full marks (CanaryFailed if not), and no result comes before it. `warm`: this
    process warmed up for the course already (`_warm_up`)."""
    global _batch_pool, _batch_course_dir, _batch_course, _batch_keep_going
    if not unpacked and canary is None:
        return
    # Grader modules keep their plain names (test_model, ...) in sys.modules: another course's, graded earlier in
    # this process, would stand in for these, and these for a later one's.
    grader_modules = [path.stem for path in (course_dir / "graders").glob("*.py")]
    try:
        # The warm workers start (in their sandboxes) while this process warms up the graders: both take seconds.
        pool.start()
        if not warm:
            _warm_up(course_dir, course)
        for slot in range(pool.slots):
            pool.worker(slot)
        _batch_pool, _batch_course_dir, _batch_course, _batch_keep_going = pool, course_dir, course, keep_going
        yield from _GradingProcesses(pool=pool, course=course).grade(unpacked, canary=canary)
    finally:
        for name in grader_modules:
            sys.modules.pop(name, None)


def grade_folders(
    folders: Mapping[str, Path],
    *,
    course_dir: Path,
    jobs: int | None = None,
    limits: Limits | None = None,
    isolation: Isolation = "auto",
    keep_going: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, StudentResult]:
    """Grade hand-in folders as they stand, through the same sandboxed workers and grading processes as a class;
    write nothing. Return name -> result, in the order of `folders`.

    For hand-ins the course itself makes (its solutions, its stubs, mutants of the solutions): no intake runs, so
    each folder holds the parts' modules and the course's given modules already. A hand-in whose grading could
    not finish has `not_graded` set; graders that cannot run raise GraderSetupError, and so does a grader that
    raises unless `keep_going` (then that hand-in is not graded, its verdicts kept).
    """
    course_dir = course_dir.resolve()
    course = load_course(course_dir / "course.yml")
    unpacked: list[Task] = [(name, folder, (), False) for name, folder in folders.items()]
    slots = max(1, min(jobs or os.cpu_count() or 1, len(unpacked)))
    with (
        _scratch_space() as scratch,
        WorkerPool(
            limits=limits or course.limits,
            scratch_dir=scratch / "workers",
            slots=slots,
            isolation=isolation,
            probes_file=course_probes_file(course_dir, course),
        ) as pool,
    ):
        graded = _grade_unpacked(unpacked, pool=pool, course=course, course_dir=course_dir, keep_going=keep_going)
        results: dict[str, StudentResult] = {}
        for result in graded:
            if result is not None:
                results[result.student_id] = result
                if on_progress is not None:
                    on_progress(result.student_id, len(results), len(unpacked))
    return {name: results[name] for name in folders}


class _GradingProcesses:
    """One forked grading process per slot, each grading one hand-in at a time.

    A grading process that dies costs the hand-in it was grading, and no other: that hand-in is marked not
    graded (a re-run grades it), the slot's worker is replaced, a fresh grading process takes the slot, and the
    rest of the class is graded as if nothing happened. Hand-ins are never retried within a batch: a hand-in
    that kills its grading process once would do it again.
    """

    def __init__(self, *, pool: WorkerPool, course: Course) -> None:
        self.pool = pool
        self.course = course
        self.context = multiprocessing.get_context("fork")
        self.processes: dict[
            int, tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]
        ] = {}

    def _start(self, slot: int) -> None:
        self.pool.worker(slot)  # warm, and owned by this process, before the grading process forks from it
        ours, theirs = self.context.Pipe()
        process = self.context.Process(target=_grading_process, args=(theirs, slot), daemon=True)
        process.start()
        theirs.close()
        self.processes[slot] = (process, ours)

    def _stop(self, slot: int) -> None:
        process, connection = self.processes.pop(slot)
        with contextlib.suppress(OSError):
            connection.send(None)
        connection.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()

    def grade(self, unpacked: list[Task], canary: Task | None = None) -> Iterator[StudentResult | None]:
        """Yield each result as it finishes. With `canary`, it is graded first (the others start beside it), the
        results that finish before it are held back, and None is yielded once it got full marks."""
        waiting = list(reversed(unpacked)) + ([canary] if canary is not None else [])
        busy: dict[int, Task] = {}
        held: list[StudentResult] | None = [] if canary is not None else None
        try:
            for slot in range(self.pool.slots):
                self._start(slot)
            while waiting or busy:
                for slot in self.processes:
                    if slot not in busy and waiting:
                        busy[slot] = task = waiting.pop()
                        self.processes[slot][1].send((task[0], str(task[1]), task[2], task[3]))
                connections = {slot: self.processes[slot][1] for slot in busy}
                ready = multiprocessing.connection.wait(list(connections.values()))
                for slot, connection in connections.items():
                    if connection not in ready:
                        continue
                    task = busy.pop(slot)
                    result = self._receive(slot, connection, task)
                    if task is canary:
                        problems = canary_problems(result, self.course)
                        if problems:
                            shown = problems[:10] + ([f"and {len(problems) - 10} more"] if len(problems) > 10 else [])
                            if any(TIMEOUT_MESSAGE in problem for problem in problems):
                                shown.append("(a timeout here means the time limit is too tight for this machine)")
                            raise CanaryFailed(
                                "the reference solutions do not get full marks, so the course is broken, not the "
                                "class; nothing was graded:\n" + "\n".join(shown)
                            )
                        yield None
                        yield from held or []
                        held = None
                    elif held is not None:
                        held.append(result)
                    else:
                        yield result
        finally:
            for slot in list(self.processes):
                self._stop(slot)

    def _receive(self, slot: int, connection: multiprocessing.connection.Connection, task: Task) -> StudentResult:
        student_id, _, problems, late = task
        try:
            kind, value = connection.recv()
        except (EOFError, OSError):
            process = self.processes[slot][0]
            process.join(timeout=5)
            reason = f"its grading process died ({describe_exit(process.exitcode)})"
            self._restart(slot)
            return not_graded_result(student_id=student_id, problems=problems, late=late, reason=reason)
        if kind == "result":
            result: StudentResult = value
            return result
        if kind == "not graded":
            self._restart(slot)
            return not_graded_result(student_id=student_id, problems=problems, late=late, reason=value)
        # The graders are broken, not the hand-in: stop rather than grade anyone wrongly.
        raise GraderSetupError(value)

    def _restart(self, slot: int) -> None:
        """A fresh grading process and a fresh worker for `slot`: the old worker may be stuck mid-session."""
        self._stop(slot)
        self.pool.discard(slot)
        self._start(slot)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            return f"signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"
