"""The `coursekit` command line: parses arguments, calls the library, renders the outcome.

Every value shown inside rich markup goes through `terminal_text` (coursekit.escaping): student ids, file and
zip member names and problems are the students' text, and no escape sequence or markup of theirs reaches the
instructor's terminal. A `CoursekitError` from any command is reported once, here, as ``error: ...`` with exit
status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coursekit.config import load_course
from coursekit.errors import CoursekitError
from coursekit.escaping import terminal_text
from coursekit.export import ExportTarget, MissingPolicy
from coursekit.intake.roster import LmsName, load_roster
from coursekit.sandbox import Isolation

# No :emoji: codes either: rich would replace them in students' text, and the kit's own text has none.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)
# Without a terminal (a CI log, a file) rich would cut every table at 80 columns; COLUMNS still wins.
LOG_WIDTH = 200


def _fit_to_log() -> None:
    for output in (console, errors):
        if not output.is_terminal and "COLUMNS" not in os.environ:
            output.width = LOG_WIDTH


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback (name, done, total): a bar in a terminal, a line per step in a log."""
    if console.is_terminal:
        columns = (
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("", total=None)
            yield lambda name, done, total: progress.update(
                task, completed=done, total=total, description=terminal_text(name)
            )
        return
    started = time.perf_counter()

    def line(name: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        console.print(f"{label} {done}/{total} {terminal_text(name)} ({elapsed:.0f} s)", highlight=False)

    yield line


def _step(text: str) -> None:
    """A long step starting, said on stderr (a log shows where the time goes)."""
    errors.print(f"{text} ...", highlight=False)


class _Commands(typer.core.TyperGroup):
    """The command group: reports a `CoursekitError` from any command in one place."""

    def invoke(self, ctx: Any) -> Any:
        _fit_to_log()
        try:
            return super().invoke(ctx)
        except CoursekitError as error:
            errors.print(f"[bold red]error:[/] {terminal_text(error, lines=True)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Commands,
    help="An autograded course kit for Deep Learning with PyTorch: the course is course.yml and its folders.",
    no_args_is_help=True,
)

CourseDir = Annotated[Path, typer.Option("--course-dir", help="the course repository (holding course.yml)")]
ExportTo = Literal[ExportTarget, "gradescope"]


@app.command("build-exercises")
def build_exercises_command(
    course_dir: CourseDir = Path("."),
    check: Annotated[bool, typer.Option("--check", help="only say whether exercises/ is stale")] = False,
) -> None:
    """Generate the student stubs in exercises/ from the fenced solutions in solutions/."""
    from coursekit.author.stubs import build_exercises

    written = build_exercises(course_dir=course_dir, check_only=check)
    if check:
        console.print("exercises/ is up to date with solutions/")
    else:
        for path in written:
            console.print(f"wrote {terminal_text(path)}")


@app.command("check")
def check_command(
    course_dir: CourseDir = Path("."),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="hand-ins graded at once (default: all cores)")] = 0,
) -> None:
    """Prove the graders right: full marks for the solutions, zero for the stubs, each mutant caught in its part."""
    from coursekit.check.checker import check_course

    with _progress("check") as on_progress:
        report = check_course(course_dir=course_dir, jobs=jobs or None, on_progress=on_progress, on_step=_step)
    report.render(console)
    if not report.ok:
        raise typer.Exit(1)


@app.command("release")
def release_command(
    out: Annotated[Path, typer.Option("--out", help="where student/, student.zip and nbgrader/ go")],
    course_dir: CourseDir = Path("."),
) -> None:
    """Build the student release (folder + zip for the LMS) and the nbgrader course."""
    from coursekit.author.release import build_release
    from coursekit.grade.preflight import verify_course

    verify_course(course_dir)
    report = build_release(course_dir=course_dir, out_dir=out)
    table = Table(title="release")
    table.add_column("what")
    table.add_column("where")
    table.add_row("student folder", f"{terminal_text(report.student_dir)} ({len(report.student_files)} files)")
    table.add_row(
        "student zip (upload to the LMS)", f"{terminal_text(report.student_zip)} sha256 {report.zip_sha256[:12]}"
    )
    table.add_row("nbgrader course", terminal_text(report.nbgrader_dir))
    table.add_row("nbgrader source notebook", f"{terminal_text(report.source_notebook)} ({report.points:g} points)")
    console.print(table)


@app.command("grade")
def grade_command(
    submissions: Annotated[
        Path,
        typer.Argument(
            help="a folder with one hand-in per student (folder, .zip or .ipynb)", exists=True, file_okay=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="where results/, feedback/ and grades.csv go")],
    course_dir: CourseDir = Path("."),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="hand-ins graded at once (default: all cores)")] = 0,
    student: Annotated[str | None, typer.Option("--student", help="grade only this student")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="regrade every student (a plain re-run regrades only what changed)")
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going", help="when a grader raises, mark that hand-in not graded and go on (default: stop)"
        ),
    ] = False,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="seconds per part (course.yml)")] = None,
    memory_limit: Annotated[int | None, typer.Option("--memory-limit", help="MB per part (course.yml)")] = None,
    isolation: Annotated[
        Isolation,
        typer.Option(
            "--isolation",
            help="auto (the strongest tier here) | bwrap (namespaces) | uid (root without namespaces: an unprivileged "
            "uid per slot, Landlock, seccomp) | none (Landlock, seccomp and limits as this user)",
        ),
    ] = "auto",
) -> None:
    """Grade every hand-in in SUBMISSIONS into OUT: results/<id>.json, feedback/<id>.md, grades.csv."""
    from coursekit.grade.results import read_student_result
    from coursekit.sandbox.bwrap import SandboxUnavailable
    from coursekit.sandbox.pool import WorkerPool, course_probes_file

    course = load_course(course_dir / "course.yml")
    updates = {"time_seconds": time_limit, "memory_mb": memory_limit}
    limits = course.limits.model_copy(update={k: v for k, v in updates.items() if v is not None})
    before = read_student_result(out, student) if student else None
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="coursekit-workers-")))
        try:
            # The sandboxed workers import torch while this process does: started before the import below.
            pool = WorkerPool(
                limits=limits,
                scratch_dir=scratch,
                slots=1 if student else jobs or os.cpu_count() or 1,
                isolation=isolation,
                probes_file=course_probes_file(course_dir, course),
            )
        except SandboxUnavailable as error:
            raise SandboxUnavailable(f"--isolation {isolation}: {error}") from None
        errors.print(f"isolation: {pool.tier}", highlight=False)
        stack.enter_context(pool)
        pool.start()
        from coursekit.grade.engine import grade_class

        _step("checking the course, then grading the reference solutions before the class")
        on_progress = stack.enter_context(_progress("grading"))
        report = grade_class(
            course_dir=course_dir,
            submissions_dir=submissions,
            out_dir=out,
            student=student,
            force=force,
            limits=limits,
            on_progress=on_progress,
            pool=pool,
            keep_going=keep_going,
        )
    if report.isolation_note:
        errors.print(f"[bold yellow]warning:[/] {terminal_text(report.isolation_note)}", highlight=False)
    _render_class_summary(report, course_dir=course_dir)
    if student:
        _render_student_score(report, student=student, before=before, course_dir=course_dir)
    from coursekit.report.page import write_report

    page = write_report(out_dir=out, course_dir=course_dir, submissions_dir=submissions)
    console.print(f"class report in {terminal_text(page)}", highlight=False)


def _render_student_score(report: Any, *, student: str, before: Any, course_dir: Path) -> None:
    """`--student ID`: that student's score now, and before when they had one."""
    from coursekit.grade.results import NOT_GRADED

    course = load_course(course_dir / "course.yml")
    most = f"{course.assignment.points:g}"

    def score(result: Any) -> str:
        return NOT_GRADED if result.not_graded else f"{result.score:g}/{most}"

    now = next(result for result in report.results if result.student_id == student)
    was = f" (was {score(before)})" if before is not None else ""
    kept = " (unchanged since it was graded; --force regrades)" if student in report.resumed else ""
    console.print(f"{terminal_text(student)}: {score(now)}{was}{kept}", highlight=False)


@app.command("report")
def report_page_command(
    out: Annotated[Path, typer.Argument(help="the folder `coursekit grade` wrote", exists=True, file_okay=False)],
    submissions: Annotated[
        Path | None,
        typer.Option("--submissions", help="the hand-ins that were graded: compare their code", file_okay=False),
    ] = None,
    course_dir: CourseDir = Path("."),
) -> None:
    """Write OUT/report.html: the class at a glance, item analysis, common mistakes, figures, similarity, problems."""
    from coursekit.report.page import write_report

    page = write_report(out_dir=out, course_dir=course_dir, submissions_dir=submissions)
    console.print(f"wrote {terminal_text(page)}", highlight=False)


def _render_class_summary(report: object, *, course_dir: Path) -> None:
    from coursekit.grade.engine import ClassReport

    assert isinstance(report, ClassReport)
    course = load_course(course_dir / "course.yml")
    results = report.results
    table = Table(title=f"{terminal_text(course.assignment.title)}: {len(results)} students")
    table.add_column("part")
    table.add_column("mean", justify="right")
    table.add_column("max", justify="right")
    table.add_column("full marks", justify="right")
    for part in course.assignment.parts:
        scores = [r.part_scores(course)[part.id] for r in results]
        mean = statistics.fmean(scores) if scores else 0.0
        full = sum(1 for s in scores if s >= part.points - 1e-9)
        table.add_row(terminal_text(part.title), f"{mean:.1f}", f"{part.points:g}", f"{full}/{len(scores)}")
    totals = [r.final_score(course) for r in results]  # after the late policy, as grades.csv
    table.add_row(
        "[bold]total",
        f"{statistics.fmean(totals) if totals else 0.0:.1f}",
        f"{course.assignment.points:g}",
        f"{sum(1 for t in totals if t >= course.assignment.points - 1e-9)}/{len(totals)}",
    )
    console.print(table)
    from coursekit.report.analysis import problems as class_problems

    found = class_problems(results, course=course)
    if found:
        problems = Table(title=f"hand-ins with problems: {len({p.student for p in found})}")
        problems.add_column("student")
        problems.add_column("problem")
        problems.add_column("detail")
        for problem in found:
            problems.add_row(terminal_text(problem.student), problem.kind, terminal_text(problem.detail))
        console.print(problems)
    for entry in report.skipped_entries:
        errors.print(f"[yellow]skipped[/] {terminal_text(entry)} (not a hand-in)", highlight=False)
    resumed = f", {len(report.resumed)} unchanged since graded (--force regrades them)" if report.resumed else ""
    if report.regraded:
        reasons: dict[str, int] = {}
        for changes in report.regraded.values():
            for change in changes:
                reasons[change] = reasons.get(change, 0) + 1
        why = ", ".join(f"{change}: {count}" for change, count in reasons.items())
        console.print(
            f"regraded {len(report.regraded)} hand-ins whose results were out of date ({why})", highlight=False
        )
    if report.canary_seconds is not None:
        console.print(
            f"the reference solutions got full marks ({report.canary_seconds:.1f} s into the batch)", highlight=False
        )
    console.print(
        f"graded {len(report.graded)} hand-ins in {report.seconds:.1f} s{resumed}; "
        f"grades in {terminal_text(report.grades_csv)}",
        highlight=False,
    )


@app.command("collect")
def collect_command(
    download: Annotated[Path, typer.Argument(help="the LMS bulk download: a .zip or the folder it unpacks to")],
    lms: Annotated[LmsName, typer.Option("--lms", help="canvas | moodle")],
    out: Annotated[Path, typer.Option("--out", help="a new folder: one hand-in per student, for `coursekit grade`")],
    roster: Annotated[Path | None, typer.Option("--roster", help="roster CSV linking LMS ids to student ids")] = None,
    worksheet: Annotated[
        Path | None,
        typer.Option("--worksheet", help="Moodle: the assignment's grading worksheet, which says who was how late"),
    ] = None,
) -> None:
    """Turn an LMS bulk download into the one-entry-per-student folder that `coursekit grade` reads."""
    from coursekit.intake.collect import collect_download
    from coursekit.intake.worksheet import load_worksheet

    report = collect_download(
        download=download,
        lms=lms,
        out_dir=out,
        roster=load_roster(roster) if roster else None,
        worksheet=load_worksheet(worksheet) if worksheet else None,
    )
    late = sum(1 for entry in report.entries if entry.late)
    console.print(f"collected {len(report.entries)} hand-ins into {terminal_text(out)} ({late} late)", highlight=False)
    skipped = Table(title="files not placed")
    skipped.add_column("why")
    skipped.add_column("file")
    skipped.add_column("reason")
    for why, files in (
        ("unrecognised", report.unrecognised),
        ("rejected", report.rejected),
        ("superseded", report.superseded),
    ):
        for file in files:
            skipped.add_row(why, terminal_text(file.path), terminal_text(file.reason))
    if skipped.row_count:
        console.print(skipped)
    for student_id in report.not_in_roster:
        errors.print(f"[yellow]not in the roster:[/] {terminal_text(student_id)}", highlight=False)
    for student_id in report.roster_without_handin:
        errors.print(f"[yellow]no hand-in:[/] {terminal_text(student_id)}", highlight=False)
    for warning in report.warnings:
        errors.print(f"[yellow]warning:[/] {terminal_text(warning)}", highlight=False)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="the folder `coursekit grade` wrote (for canvas, moodle, csv)")],
    to: Annotated[ExportTo, typer.Option("--to", help="canvas | moodle | csv | gradescope")],
    dest: Annotated[Path | None, typer.Option("--dest", help="the file (or folder, for gradescope) to write")] = None,
    roster: Annotated[Path | None, typer.Option("--roster", help="roster CSV (needed for canvas and moodle)")] = None,
    missing: Annotated[
        MissingPolicy, typer.Option("--missing", help="zero | blank: for roster students with no hand-in")
    ] = "zero",
    canvas_assignment_id: Annotated[str | None, typer.Option("--canvas-assignment-id")] = None,
    points: Annotated[
        float | None,
        typer.Option("--points", help="what the LMS assignment is worth, when not course.yml's points: rescale to it"),
    ] = None,
    worksheet: Annotated[
        Path | None,
        typer.Option("--worksheet", help="moodle: the grading worksheet downloaded from the assignment, to fill in"),
    ] = None,
    course_dir: CourseDir = Path("."),
) -> None:
    """Write grades for an LMS (canvas, moodle, csv), or Gradescope's autograder.zip (gradescope)."""
    from coursekit.export.lms import export_grades
    from coursekit.grade.preflight import verify_course
    from coursekit.intake.worksheet import load_worksheet

    course = load_course(course_dir / "course.yml")
    verify_course(course_dir, course)
    if to == "gradescope":
        from coursekit.export.gradescope import build_autograder_zip

        path = build_autograder_zip(course_dir=course_dir, dest=dest or out)
        console.print(
            f"wrote {terminal_text(path)}: upload it as the assignment's autograder on Gradescope", highlight=False
        )
        return
    from coursekit.grade.engine import out_of_date_results

    stale = out_of_date_results(out, course_dir=course_dir)
    if stale:
        changed = sorted({change for changes in stale.values() for change in changes})
        errors.print(
            f"[bold yellow]warning:[/] {len(stale)} results are out of date ({', '.join(changed)} since they were "
            "graded): `coursekit grade` again regrades them",
            highlight=False,
        )
    report = export_grades(
        out_dir=out,
        to=to,
        course=course,
        dest=dest or out / f"grades-{to}.csv",
        roster=load_roster(roster) if roster else None,
        missing=missing,
        canvas_assignment_id=canvas_assignment_id,
        points=points,
        worksheet=load_worksheet(worksheet) if worksheet else None,
    )
    scale = f", out of {report.points:g} points" if report.points is not None else ""
    console.print(f"wrote {report.rows} rows to {terminal_text(report.dest)}{scale}", highlight=False)
    for label, ids in (
        ("no hand-in", report.missing),
        ("not in the roster", report.not_in_roster),
        ("the LMS cannot identify", report.unidentified),
        ("grade locked in Moodle, left as it was", report.locked),
    ):
        if ids:
            errors.print(f"[yellow]{label}:[/] {', '.join(terminal_text(i) for i in ids)}", highlight=False)
    for warning in report.warnings:
        errors.print(f"[yellow]warning:[/] {terminal_text(warning)}", highlight=False)


@app.command("export-nbgrader")
def export_nbgrader_command(
    out: Annotated[Path, typer.Argument(help="the folder `coursekit grade` wrote")],
    nbgrader_course: Annotated[
        Path, typer.Option("--nbgrader-course", help="the nbgrader course folder (nbgrader_config.py, gradebook.db)")
    ],
    course_dir: CourseDir = Path("."),
) -> None:
    """Write `coursekit grade`'s points into nbgrader's gradebook, for formgrader and `nbgrader export`."""
    from coursekit.export.nbgrader import write_gradebook

    report = write_gradebook(out_dir=out, course_root=nbgrader_course, course=load_course(course_dir / "course.yml"))
    console.print(
        f"wrote {len(report.written)} students into {terminal_text(str(nbgrader_course / 'gradebook.db'))}",
        highlight=False,
    )
    if report.not_graded:
        errors.print(
            f"[yellow]not graded, left out:[/] {', '.join(terminal_text(i) for i in report.not_graded)}",
            highlight=False,
        )


@app.command("gradescope-run", hidden=True)
def gradescope_run_command(
    root: Annotated[Path, typer.Option("--root", help="Gradescope's /autograder (or a stand-in)")] = Path(
        "/autograder"
    ),
    course_dir: CourseDir = Path("."),
) -> None:
    """Grade Gradescope's submission folder and write its results.json (what run_autograder calls)."""
    from coursekit.export.gradescope import run_gradescope_submission

    run = run_gradescope_submission(root=root, course_dir=course_dir)
    # run_autograder's output is Gradescope's stdout: staff see it, students only as course.yml allows.
    console.print(f"isolation: {terminal_text(run.isolation)}", highlight=False)
    if run.memory_note:
        console.print(f"memory: {terminal_text(run.memory_note)}", highlight=False)
    if run.lateness_note:
        console.print(f"lateness: {terminal_text(run.lateness_note)}", highlight=False)
    console.print(f"wrote {terminal_text(run.results_path)}", highlight=False)


@app.command("isolation")
def isolation_command() -> None:
    """Say which isolation tier student code would get on this machine, and why (setup.sh prints it as Gradescope
    builds its image); never fails."""
    from coursekit.sandbox.bwrap import SandboxUnavailable, bwrap_problem
    from coursekit.sandbox.pool import choose_tier

    try:
        tier, _ = choose_tier("auto")
    except SandboxUnavailable as error:
        console.print("isolation: none that keeps the kit's promises: grading will be refused", highlight=False)
        console.print(f"why: {terminal_text(str(error))}", highlight=False)
        return
    described = {
        "bwrap": "bwrap (namespaces, seccomp, limits)",
        "uid": "uid (an unprivileged uid per slot, Landlock, seccomp, limits)",
    }
    console.print(f"isolation: {described.get(tier, tier)}", highlight=False)
    problem = bwrap_problem()
    if tier != "bwrap" and problem is not None:
        console.print(f"why not bwrap: {terminal_text(problem)}", highlight=False)


def main() -> None:
    app()
