"""Check a course before release: the graders against the solutions, the stubs and every mutant.

`check_course` grades three kinds of hand-in with the graders in graders/:

- the reference solutions, which must get full marks in every part;
- the stubs in exercises/, which must get zero in every part;
- each mutant from graders/mutants/*.yml (the solutions with one realistic bug), which must lose points in
  its own part and keep full marks in every other.

It also checks that the graders' points per part add up to course.yml's, that every exercise has a grader
test, and that every mutant is well formed. The hand-ins are graded exactly as a class is
(`coursekit.grade.engine.grade_folders`: sandboxed workers, warm grading processes); the expectations are
this module's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coursekit.config import Course, CourseConfigError, load_course
from coursekit.errors import CoursekitError

if TYPE_CHECKING:
    from coursekit.grade.results import StudentResult

MUTANT_FIELDS = ("name", "part", "file", "bug", "replace", "with")
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-zA-Z0-9]+)*$")


class CheckError(CoursekitError, RuntimeError):
    """The course cannot be checked at all (no course.yml, no graders/)."""


@dataclasses.dataclass(frozen=True)
class Mutant:
    """A realistic student bug: the solutions with `replace` swapped for `replacement` in `file`."""

    name: str
    part: str
    file: str
    bug: str
    replace: str
    replacement: str
    source: Path


@dataclasses.dataclass(frozen=True)
class CheckRow:
    """One graded hand-in: what was expected of it, what it scored per part, and whether that held."""

    handin: str
    expectation: str
    # The part a mutant must lose points in; None for the solutions and the stubs.
    part: str | None
    # part id -> (score, the most the graders give)
    points: dict[str, tuple[float, float]]
    ok: bool
    note: str = ""


@dataclasses.dataclass
class CheckReport:
    """The outcome of `check_course`: a row per hand-in and the problems found."""

    rows: list[CheckRow]
    problems: list[str]
    part_points: dict[str, float]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(row.ok for row in self.rows)

    def render(self, console: Console) -> None:
        """A table of hand-ins and their points per part, then the problems."""
        table = Table(title="coursekit check: graders against solutions, stubs and mutants")
        table.add_column("hand-in or mutant", no_wrap=True)
        table.add_column("expected", no_wrap=True)
        for part in self.part_points:
            table.add_column(part, justify="right", no_wrap=True)
        table.add_column("ok", justify="center", min_width=2, no_wrap=True)
        for row in self.rows:
            cells = []
            for part in self.part_points:
                score, most = row.points.get(part, (0.0, 0.0))
                text = f"{score:g}/{most:g}" if part == row.part or row.part is None else f"{score:g}"
                cells.append(f"[bold]{text}[/bold]" if part == row.part else text)
            mark = "[green]✓[/green]" if row.ok else "[red]✗[/red]"
            # Mutants must lose in the part shown in bold: "loses" is enough in a narrow terminal.
            expected = "loses" if row.part is not None else row.expectation
            table.add_row(escape(row.handin.removeprefix("mutant ")), expected, *cells, mark)
        console.print(table)
        for problem in self.problems:
            console.print(f"[red]problem:[/red] {escape(problem)}", highlight=False)
        for row in self.rows:
            if not row.ok and row.note:
                console.print(f"[red]{escape(row.handin)}:[/red] {escape(row.note)}", highlight=False)
        verdict = "[green]ok[/green]" if self.ok else "[red]not ok[/red]"
        count = f"{len(self.rows)} hand-in" + ("s" if len(self.rows) != 1 else "")
        console.print(f"{verdict}: {count} graded in {self.seconds:.1f} s")


# --- mutants ------------------------------------------------------------------------------------------------


def load_mutants(*, mutants_dir: Path, course: Course, solutions_dir: Path) -> tuple[list[Mutant], list[str]]:
    """Read graders/mutants/*.yml; return the well-formed mutants and a problem for each one that is not."""
    mutants: list[Mutant] = []
    problems: list[str] = []
    part_ids = [part.id for part in course.assignment.parts]
    part_files = [part.file for part in course.assignment.parts]
    seen: dict[str, Path] = {}
    for path in sorted(mutants_dir.glob("*.yml")) if mutants_dir.is_dir() else []:
        where = f"{mutants_dir.name}/{path.name}"
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            problems.append(f"{where}: not valid YAML: {error}")
            continue
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(f"{where}: expected a list of mutants")
            continue
        for index, entry in enumerate(entries):
            label = f"{where}[{index}]"
            if not isinstance(entry, dict):
                problems.append(f"{label}: expected a mapping with {', '.join(MUTANT_FIELDS)}")
                continue
            missing = [key for key in MUTANT_FIELDS if not isinstance(entry.get(key), str) or not entry[key]]
            unknown = sorted(set(entry) - set(MUTANT_FIELDS))
            if missing or unknown:
                details = []
                if missing:
                    details.append(f"missing or empty {missing}")
                if unknown:
                    details.append(f"unknown keys {unknown}")
                problems.append(f"{label}: {'; '.join(details)}")
                continue
            name = entry["name"]
            label = f"{where}: mutant {name}"
            if not _KEBAB.match(name):
                problems.append(f"{label}: the name must be kebab-case")
                continue
            if name in seen:
                problems.append(f"{label}: the name is also used in {mutants_dir.name}/{seen[name].name}")
                continue
            seen[name] = path
            if entry["part"] not in part_ids:
                problems.append(f"{label}: part {entry['part']!r} is not one of {part_ids}")
                continue
            target = solutions_dir / entry["file"]
            if not target.is_file():
                problems.append(f"{label}: solutions/{entry['file']} does not exist")
                continue
            if entry["file"] not in part_files:
                # Intake hands only the parts' modules to the graders: a bug elsewhere is never graded.
                problems.append(f"{label}: {entry['file']} is not one of the parts' files {part_files}")
                continue
            occurrences = target.read_text(encoding="utf-8").count(entry["replace"])
            if occurrences != 1:
                problems.append(
                    f"{label}: its replace text occurs {occurrences} times in solutions/{entry['file']}, "
                    f"it must occur exactly once"
                )
                continue
            mutants.append(
                Mutant(
                    name=name,
                    part=entry["part"],
                    file=entry["file"],
                    bug=entry["bug"],
                    replace=entry["replace"],
                    replacement=entry["with"],
                    source=path,
                )
            )
    return mutants, problems


def write_mutant_handin(*, mutant: Mutant, solutions_dir: Path, data_dir: Path, target: Path) -> Path:
    """A hand-in folder: copies of solutions/*.py (and data/) with the mutant's bug applied."""
    target.mkdir(parents=True)
    for source in sorted(solutions_dir.glob("*.py")):
        shutil.copyfile(source, target / source.name)
    if data_dir.is_dir():
        shutil.copytree(data_dir, target / "data")
    _apply(mutant, target)
    return target


def _apply(mutant: Mutant, handin_dir: Path) -> None:
    path = handin_dir / mutant.file
    path.write_text(path.read_text(encoding="utf-8").replace(mutant.replace, mutant.replacement, 1), encoding="utf-8")


def _graded_folder(*, course: Course, course_dir: Path, source_dir: Path, target: Path) -> Path:
    """A hand-in folder as intake leaves one: the parts' modules from `source_dir`, the course's given modules."""
    target.mkdir(parents=True)
    for part in course.assignment.parts:
        shutil.copyfile(source_dir / part.file, target / part.file)
    for given in course.given:
        shutil.copyfile(course_dir / given, target / Path(given).name)
    return target


# --- judging the results ------------------------------------------------------------------------------------


def _part_points(result: StudentResult, part_ids: list[str]) -> dict[str, tuple[float, float]]:
    points = {part: (0.0, 0.0) for part in part_ids}
    for verdict in result.verdicts:
        score, most = points.get(verdict.part, (0.0, 0.0))
        points[verdict.part] = (score + verdict.score, most + verdict.max_score)
    return points


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-9)


def _failed_checks(result: StudentResult, part: str | None = None, limit: int = 3) -> str:
    failed = [v for v in result.verdicts if not v.passed and (part is None or v.part == part)]
    text = "; ".join(f"{v.name}: {v.message}" for v in failed[:limit])
    return text + (f" (and {len(failed) - limit} more)" if len(failed) > limit else "")


def _judge(
    name: str, expectation: str, part: str | None, result: StudentResult, part_ids: list[str]
) -> tuple[CheckRow, list[str]]:
    # A grader that broke on this hand-in leaves its expectation unproven, and is the course's problem.
    broke = [v for v in result.verdicts if v.grader_error]
    problems = [
        f"{name}: grader test {v.test_id} broke (not the hand-in's fault): {v.grader_exception or 'no detail'}"
        for v in broke
    ]
    if result.not_graded is not None:
        return CheckRow(name, expectation, part, {}, ok=False, note=f"not graded: {result.not_graded}"), problems
    points = _part_points(result, part_ids)
    if expectation == "full marks":
        short = [p for p, (score, most) in points.items() if not _same(score, most)]
        ok = not short
        note = f"lost points in {', '.join(short)}: {_failed_checks(result)}" if short else ""
    elif expectation == "zero":
        scored = [p for p, (score, _) in points.items() if not _same(score, 0.0)]
        ok = not scored
        passed = [v.name for v in result.verdicts if v.passed][:5]
        note = f"the stubs score points in {', '.join(scored)}, e.g. {passed}" if scored else ""
    else:
        assert part is not None
        score, most = points[part]
        others = [p for p, (s, m) in points.items() if p != part and not _same(s, m)]
        kept = most > 0 and _same(score, most)
        ok = not kept and not others and most > 0
        notes = []
        if kept or most == 0:
            notes.append(f"keeps full marks in {part}: no grader notices this bug")
        if others:
            notes.append(f"also loses points in {', '.join(others)}: {_failed_checks(result, others[0])}")
        note = "; ".join(notes)
    return CheckRow(name, expectation, part, points, ok=ok and not broke, note=note), problems


# --- the check ----------------------------------------------------------------------------------------------


def check_course(
    *,
    course_dir: Path,
    jobs: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> CheckReport:
    """Grade the solutions, the stubs in exercises/ and every mutant with graders/; report what does not hold.

    Expectations: the solutions get full marks in every part; the stubs get zero in every part; each mutant
    loses points in its own part and keeps full marks in every other. Also reported: a part whose graders'
    points do not add up to course.yml's, an exercise without a grader test, a malformed or duplicate mutant,
    a grader test that breaks (its exception and line), threshold names course.yml and the graders do not share,
    and graders that do not parse or collect (then nothing is graded: the check stops at once). `jobs` hand-ins are
    graded at a time (default: one per CPU core), as `coursekit grade` grades a class. `on_progress(name, done,
    total)` is called after each hand-in, `on_step(what)` as each long step starts.
    """
    from coursekit.grade.engine import GraderSetupError, grade_folders
    from coursekit.grade.preflight import collect_graders, course_problems
    from coursekit.sandbox.bwrap import SandboxUnavailable
    from coursekit.sandbox.pool import Isolation, choose_tier

    started = time.perf_counter()
    course_dir = course_dir.resolve()
    try:
        course = load_course(course_dir / "course.yml")
    except CourseConfigError as error:
        raise CheckError(str(error)) from None
    graders = course_dir / "graders"
    if not (graders / "pytest.ini").is_file():
        raise CheckError(f"{graders}/pytest.ini not found: the graders run with that configuration only")
    solutions_dir, exercises_dir = course_dir / "solutions", course_dir / "exercises"
    parts = course.assignment.parts
    part_ids = [part.id for part in parts]
    mutants, problems = load_mutants(mutants_dir=graders / "mutants", course=course, solutions_dir=solutions_dir)
    report = CheckReport(rows=[], problems=problems, part_points={part.id: part.points for part in parts})
    if on_step is not None:
        on_step("collecting the graders")
    if collect_graders(graders).errors:  # nothing can be graded: say where, at once
        problems += course_problems(course_dir, course)
        report.seconds = time.perf_counter() - started
        return report
    # The graders' points per part, exercises without a grader, threshold names: the same check grade runs.
    problems += course_problems(course_dir, course)

    with _workdir() as workdir:
        folder = functools.partial(_graded_folder, course=course, course_dir=course_dir)
        handins: dict[str, Path] = {}
        expectations: dict[str, tuple[str, str | None]] = {}
        handins["solutions"] = folder(source_dir=solutions_dir, target=workdir / "solutions")
        expectations["solutions"] = ("full marks", None)
        missing_stubs = [part.file for part in parts if not (exercises_dir / part.file).is_file()]
        if missing_stubs:
            problems.append(f"exercises/ lacks {', '.join(missing_stubs)}: build the exercises, then check again")
        else:
            handins["exercises"] = folder(source_dir=exercises_dir, target=workdir / "exercises")
            expectations["exercises"] = ("zero", None)
        for mutant in mutants:
            name = f"mutant {mutant.name}"
            handins[name] = folder(source_dir=solutions_dir, target=workdir / f"mutant-{mutant.name}")
            _apply(mutant, handins[name])
            expectations[name] = (f"loses in {mutant.part}", mutant.part)
        isolation: Isolation = "auto"
        try:
            choose_tier(isolation)
        except SandboxUnavailable:
            isolation = "none"  # the hand-ins are the course's own code: the weakest tier is enough for them
        if on_step is not None:
            on_step(f"grading {len(handins)} hand-ins: the solutions, the stubs and {len(mutants)} mutants")
        try:
            # Every grader that breaks is reported, with the hand-in it broke on, rather than the first alone.
            results = grade_folders(
                handins, course_dir=course_dir, jobs=jobs, isolation=isolation, keep_going=True, on_progress=on_progress
            )
        except GraderSetupError as error:
            problems.append(str(error).strip())
            report.seconds = time.perf_counter() - started
            return report

    grader_problems: list[str] = []
    for name, (expectation, losing_part) in expectations.items():
        row, trouble = _judge(name, expectation, losing_part, results[name], part_ids)
        report.rows.append(row)
        grader_problems += trouble

    # The same broken grader shows up in every hand-in: report it once, with the first hand-in it broke on.
    first_seen: dict[str, str] = {}
    for problem in grader_problems:
        first_seen.setdefault(problem.split(": ", 1)[-1], problem)
    problems += first_seen.values()
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="coursekit-check-") as name:
        yield Path(name)
