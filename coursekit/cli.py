"""The `coursekit` command line: parses arguments, calls the library, renders the outcome."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coursekit.config import CourseConfigError, load_course

app = typer.Typer(help="An autograded course kit for Chapter 6 of Deep Learning with PyTorch.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

CourseDir = Annotated[Path, typer.Option("--course-dir", help="the course repository (holding course.yml)")]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@app.command("build-exercises")
def build_exercises_command(
    course_dir: CourseDir = Path("."),
    check: Annotated[bool, typer.Option("--check", help="only say whether exercises/ is stale")] = False,
) -> None:
    """Generate the student stubs in exercises/ from the fenced solutions in solutions/."""
    from coursekit.stubs import FenceError, StaleExercisesError, build_exercises

    try:
        written = build_exercises(course_dir=course_dir, check_only=check)
    except (StaleExercisesError, FenceError, CourseConfigError) as error:
        raise _fail(str(error)) from None
    if check:
        console.print("exercises/ is up to date with solutions/")
    else:
        for path in written:
            console.print(f"wrote {path}")


@app.command("grade")
def grade_command(
    submissions: Annotated[Path, typer.Argument(help="a folder with one hand-in per student (folder, .zip or .ipynb)")],
    out: Annotated[Path, typer.Option("--out", help="where results/, feedback/ and grades.csv go")],
    course_dir: CourseDir = Path("."),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="hand-ins graded at once (default: all cores)")] = 0,
    student: Annotated[str | None, typer.Option("--student", help="grade only this student")] = None,
    force: Annotated[bool, typer.Option("--force", help="regrade students already graded")] = False,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="seconds per part (course.yml)")] = None,
    memory_limit: Annotated[int | None, typer.Option("--memory-limit", help="MB per part (course.yml)")] = None,
    isolation: Annotated[
        str, typer.Option("--isolation", help="auto | bwrap (required) | none (processes and limits only)")
    ] = "auto",
) -> None:
    """Grade every hand-in in SUBMISSIONS into OUT: results/<id>.json, feedback/<id>.md, grades.csv."""
    from coursekit.grading import grade_class

    if not submissions.is_dir():
        raise _fail(f"{submissions} is not a folder of hand-ins")
    try:
        course = load_course(course_dir / "course.yml")
    except CourseConfigError as error:
        raise _fail(str(error)) from None
    updates = {"time_seconds": time_limit, "memory_mb": memory_limit}
    limits = course.limits.model_copy(update={k: v for k, v in updates.items() if v is not None})
    columns = (
        TextColumn("[bold]grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("", total=None)

        def on_progress(student_id: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=student_id)

        try:
            report = grade_class(
                course_dir=course_dir,
                submissions_dir=submissions,
                out_dir=out,
                jobs=jobs or os.cpu_count() or 1,
                student=student,
                force=force,
                limits=limits,
                isolation=isolation,
                on_progress=on_progress,
            )
        except (ValueError, RuntimeError) as error:
            raise _fail(str(error)) from None
    if report.isolation_note:
        errors.print(f"[bold yellow]warning:[/] {report.isolation_note}", highlight=False)
    _render_class_summary(report, course_dir=course_dir)


def _render_class_summary(report: object, *, course_dir: Path) -> None:
    from coursekit.grading import ClassReport

    assert isinstance(report, ClassReport)
    course = load_course(course_dir / "course.yml")
    results = report.results
    table = Table(title=f"{course.assignment.title}: {len(results)} students")
    table.add_column("part")
    table.add_column("mean", justify="right")
    table.add_column("max", justify="right")
    table.add_column("full marks", justify="right")
    for part in course.assignment.parts:
        scores = [r.part_scores(course)[part.id] for r in results]
        mean = statistics.fmean(scores) if scores else 0.0
        full = sum(1 for s in scores if s >= part.points - 1e-9)
        table.add_row(part.title, f"{mean:.1f}", f"{part.points:g}", f"{full}/{len(scores)}")
    totals = [r.score for r in results]
    table.add_row(
        "[bold]total",
        f"{statistics.fmean(totals) if totals else 0.0:.1f}",
        f"{course.assignment.points:g}",
        f"{sum(1 for t in totals if t >= course.assignment.points - 1e-9)}/{len(totals)}",
    )
    console.print(table)
    troubled = [r for r in results if r.problems or r.grader_errors]
    if troubled:
        problems = Table(title="hand-ins with problems")
        problems.add_column("student")
        problems.add_column("problem")
        for result in troubled:
            for problem in (*result.problems, *(f"grader error in {name}" for name in result.grader_errors)):
                problems.add_row(result.student_id, problem)
        console.print(problems)
    for entry in report.skipped_entries:
        errors.print(f"[yellow]skipped[/] {entry} (not a hand-in)", highlight=False)
    resumed = f", {len(report.resumed)} already graded (use --force to regrade)" if report.resumed else ""
    console.print(
        f"graded {len(report.graded)} hand-ins in {report.seconds:.1f} s{resumed}; grades in {report.grades_csv}",
        highlight=False,
    )


def main() -> None:
    app()
