"""Check a course before release: the graders against the solutions, the stubs and every mutant.

`check_course` grades three kinds of hand-in with the graders in graders/:

- the reference solutions, which must get full marks in every part;
- the stubs in exercises/, which must get zero in every part;
- each mutant from graders/mutants/*.yml (the solutions with one realistic bug), which must lose points in
  its own part and keep full marks in every other.

It also checks that the graders' points per part add up to course.yml's, that every exercise has a grader
test, and that every mutant is well formed. Grading imports a hand-in's modules under their contract names,
so each hand-in is graded in a fresh process, forked from a server that has already imported torch and
pytest (`python -m coursekit.check.checker --one HANDIN_DIR` grades one hand-in and prints its verdicts as JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coursekit.config import Course, CourseConfigError, load_course
from coursekit.errors import CoursekitError

MUTANT_FIELDS = ("name", "part", "file", "bug", "replace", "with")
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-zA-Z0-9]+)*$")

# Imported once before forking, so that each hand-in's process starts warm. torch._dynamo is what the
# probes' operator recorder (a TorchDispatchMode) pulls in on first use: about 1.5 s per process.
_PRELOAD = [
    "torch",
    "torch._dynamo",
    "pytest",
    "matplotlib.figure",
    "coursekit.grade.plugin",
    "coursekit.sandbox.probes",
]


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
    _copy_handin(solutions_dir, data_dir, target)
    path = target / mutant.file
    path.write_text(path.read_text(encoding="utf-8").replace(mutant.replace, mutant.replacement, 1), encoding="utf-8")
    return target


def _copy_handin(source_dir: Path, data_dir: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for source in sorted(source_dir.glob("*.py")):
        shutil.copyfile(source, target / source.name)
    if data_dir.is_dir():
        shutil.copytree(data_dir, target / "data")


# --- grading one hand-in, in the process that runs this -------------------------------------------------------


class _CollectionErrors:
    """Records grader files pytest could not collect."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            text = str(report.longreprtext).strip().splitlines()
            self.errors.append(f"{report.nodeid or 'graders'} could not be collected: {text[-1] if text else ''}")


def grade_handin(*, course_dir: Path, handin_dir: Path) -> dict[str, Any]:
    """Run every grader in graders/ on one hand-in in this process; return its verdicts as plain data.

    Only call this in a process of its own: the hand-in's modules stay imported under their contract names.
    """
    import pytest

    from coursekit.grade.engine import grader_arguments
    from coursekit.grade.plugin import GradingPlugin
    from coursekit.sandbox.pool import course_probes_file
    from coursekit.sandbox.student import InProcessStudent

    course = load_course(course_dir / "course.yml")
    graders = course_dir / "graders"
    student = InProcessStudent(handin_dir, probes_file=course_probes_file(course_dir, course))
    plugin = GradingPlugin(course, lambda _part: student, handin_dir=handin_dir)
    collection = _CollectionErrors()
    started = time.perf_counter()
    # Unlike class grading, a grader file that does not collect is reported, and the others still run.
    arguments = [*grader_arguments(graders), "--continue-on-collection-errors"]
    exit_code = int(pytest.main(arguments, plugins=[plugin, collection]))
    return {
        "verdicts": [dataclasses.asdict(verdict) for verdict in plugin.verdicts],
        "errors": collection.errors,
        "exit_code": exit_code,
        "seconds": time.perf_counter() - started,
    }


def _grade_in_child(course_dir: Path, handin_dir: Path, result_path: Path, log_path: Path) -> None:
    """The body of one forked grading process: its output goes to a log, its verdicts to a JSON file."""
    with open(log_path, "wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    import torch

    torch.set_num_threads(1)  # one core per hand-in: `jobs` hand-ins run side by side
    result = grade_handin(course_dir=course_dir, handin_dir=handin_dir)
    result_path.write_text(json.dumps(result), encoding="utf-8")


class _GradingProcess:
    """One hand-in's grading process: forked from this one, or (without fork) `python -m coursekit.check.checker --one`."""

    def __init__(self, course_dir: Path, handin_dir: Path, result_path: Path, log_path: Path) -> None:
        self.started = time.monotonic()
        self.popen: subprocess.Popen[bytes] | None = None
        self.pid = 0
        if hasattr(os, "fork"):
            self.pid = os.fork()
            if self.pid == 0:
                code = 1
                try:
                    _grade_in_child(course_dir, handin_dir, result_path, log_path)
                    code = 0
                finally:
                    os._exit(code)
            return
        with open(result_path, "wb") as out, open(log_path, "wb") as log:
            command = [sys.executable, "-m", "coursekit.check.checker", "--one", str(handin_dir)]
            self.popen = subprocess.Popen([*command, "--course-dir", str(course_dir)], stdout=out, stderr=log)

    def poll(self) -> int | None:
        """The exit code once finished (negative: killed by that signal), None while it runs."""
        if self.popen is not None:
            return self.popen.poll()
        finished, status = os.waitpid(self.pid, os.WNOHANG)
        return None if finished == 0 else os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        if self.popen is not None:
            self.popen.kill()
            self.popen.wait()
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def grade_batch(
    *, course_dir: Path, handins: dict[str, Path], jobs: int, timeout: float, workdir: Path
) -> dict[str, Any]:
    """Grade every hand-in, each in a fresh process forked from this one, at most `jobs` at a time.

    Returns name -> the hand-in's result (see `grade_handin`) or a text saying why there is none. Forking
    from a process that has already imported torch and pytest saves their import time per hand-in.
    """
    for module in _PRELOAD:
        importlib.import_module(module)
    waiting = list(enumerate(handins.items()))
    running: dict[str, tuple[_GradingProcess, Path, Path]] = {}
    results: dict[str, Any] = {}
    while waiting or running:
        while waiting and len(running) < jobs:
            index, (name, handin) = waiting.pop(0)
            result_path, log_path = workdir / f"result-{index}.json", workdir / f"result-{index}.log"
            running[name] = (_GradingProcess(course_dir, handin, result_path, log_path), result_path, log_path)
        time.sleep(0.02)
        for name, (process, result_path, log_path) in list(running.items()):
            code = process.poll()
            if code is None:
                if time.monotonic() - process.started > timeout:
                    process.kill()
                    results[name] = f"grading took longer than {timeout:g} s and was stopped"
                    del running[name]
                continue
            del running[name]
            try:
                results[name] = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:] if log_path.is_file() else ""
                results[name] = f"the grading process died (exit code {code}): {tail.strip()}"
    return results


def _grade_all(
    *, course_dir: Path, handins: dict[str, Path], jobs: int, timeout: float, workdir: Path
) -> dict[str, Any]:
    """Run `grade_batch` in a fresh Python (`python -m coursekit.check.checker --batch`): the caller's state stays out."""
    request = workdir / "batch.json"
    answer = workdir / "batch-results.json"
    request.write_text(
        json.dumps(
            {
                "course_dir": str(course_dir),
                "handins": {name: str(path) for name, path in handins.items()},
                "jobs": jobs,
                "timeout": timeout,
                "workdir": str(workdir),
                "out": str(answer),
            }
        ),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "coursekit.check.checker", "--batch", str(request)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=course_dir)
    if done.returncode != 0 or not answer.is_file():
        why = f"the grading server failed (exit code {done.returncode}): {done.stderr.strip()[-800:]}"
        return dict.fromkeys(handins, why)
    results: dict[str, Any] = json.loads(answer.read_text(encoding="utf-8"))
    return results


# --- judging the results ------------------------------------------------------------------------------------


def _part_points(result: dict[str, Any], part_ids: list[str]) -> dict[str, tuple[float, float]]:
    points = {part: (0.0, 0.0) for part in part_ids}
    for verdict in result["verdicts"]:
        score, most = points.get(verdict["part"], (0.0, 0.0))
        points[verdict["part"]] = (score + float(verdict["score"]), most + float(verdict["max_score"]))
    return points


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-9)


def _failed_checks(result: dict[str, Any], part: str | None = None, limit: int = 3) -> str:
    failed = [v for v in result["verdicts"] if not v["passed"] and (part is None or v["part"] == part)]
    text = "; ".join(f"{v['name']}: {v['message']}" for v in failed[:limit])
    return text + (f" (and {len(failed) - limit} more)" if len(failed) > limit else "")


def _grader_trouble(name: str, result: dict[str, Any]) -> list[str]:
    """Problems with the graders themselves seen while grading one hand-in."""
    problems = [f"{name}: {error}" for error in result["errors"]]
    if result["exit_code"] not in (0, 1):
        problems.append(f"{name}: pytest stopped with exit code {result['exit_code']} (a grader or its markers)")
    problems += [
        f"{name}: grader test {v['test_id']} broke (not the hand-in's fault)"
        for v in result["verdicts"]
        if v.get("grader_error")
    ]
    return problems


def _judge(
    name: str, expectation: str, part: str | None, result: dict[str, Any] | str, part_ids: list[str]
) -> tuple[CheckRow, list[str]]:
    if isinstance(result, str):
        return CheckRow(name, expectation, part, {}, ok=False, note=result), []
    points = _part_points(result, part_ids)
    problems = _grader_trouble(name, result)
    if expectation == "full marks":
        short = [p for p, (score, most) in points.items() if not _same(score, most)]
        ok = not short
        note = f"lost points in {', '.join(short)}: {_failed_checks(result)}" if short else ""
    elif expectation == "zero":
        scored = [p for p, (score, _) in points.items() if not _same(score, 0.0)]
        ok = not scored
        passed = [v["name"] for v in result["verdicts"] if v["passed"]][:5]
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
    # A grader that broke on this hand-in leaves its expectation unproven; collection errors are the course's.
    broke = any(v.get("grader_error") for v in result["verdicts"])
    return CheckRow(name, expectation, part, points, ok=ok and not broke, note=note), problems


# --- the check ----------------------------------------------------------------------------------------------


def check_course(*, course_dir: Path, jobs: int | None = None) -> CheckReport:
    """Grade the solutions, the stubs in exercises/ and every mutant with graders/; report what does not hold.

    Expectations: the solutions get full marks in every part; the stubs get zero in every part; each mutant
    loses points in its own part and keeps full marks in every other. Also reported: a part whose graders'
    points do not add up to course.yml's, an exercise without a grader test, a malformed or duplicate mutant,
    a grader file that does not collect, a grader test that breaks. `jobs` hand-ins are graded at a time
    (default: one per CPU core), each in a fresh process.
    """
    started = time.perf_counter()
    course_dir = course_dir.resolve()
    try:
        course = load_course(course_dir / "course.yml")
    except CourseConfigError as error:
        raise CheckError(str(error)) from None
    graders = course_dir / "graders"
    if not (graders / "pytest.ini").is_file():
        raise CheckError(f"{graders}/pytest.ini not found: the graders run with that configuration only")
    solutions_dir, exercises_dir, data_dir = course_dir / "solutions", course_dir / "exercises", course_dir / "data"
    parts = course.assignment.parts
    part_ids = [part.id for part in parts]
    mutants, problems = load_mutants(mutants_dir=graders / "mutants", course=course, solutions_dir=solutions_dir)

    with _workdir() as workdir:
        handins: dict[str, Path] = {}
        expectations: dict[str, tuple[str, str | None]] = {}
        handins["solutions"] = workdir / "solutions"
        _copy_handin(solutions_dir, data_dir, handins["solutions"])
        expectations["solutions"] = ("full marks", None)
        missing_stubs = [part.file for part in parts if not (exercises_dir / part.file).is_file()]
        if missing_stubs:
            problems.append(f"exercises/ lacks {', '.join(missing_stubs)}: build the exercises, then check again")
        else:
            handins["exercises"] = workdir / "exercises"
            _copy_handin(exercises_dir, data_dir, handins["exercises"])
            expectations["exercises"] = ("zero", None)
        for mutant in mutants:
            name = f"mutant {mutant.name}"
            handins[name] = write_mutant_handin(
                mutant=mutant, solutions_dir=solutions_dir, data_dir=data_dir, target=workdir / f"mutant-{mutant.name}"
            )
            expectations[name] = (f"loses in {mutant.part}", mutant.part)
        timeout = course.limits.time_seconds * len(parts) + 120
        results = _grade_all(
            course_dir=course_dir, handins=handins, jobs=jobs or os.cpu_count() or 1, timeout=timeout, workdir=workdir
        )

    rows: list[CheckRow] = []
    grader_problems: list[str] = []
    for name, (expectation, losing_part) in expectations.items():
        row, trouble = _judge(name, expectation, losing_part, results[name], part_ids)
        rows.append(row)
        grader_problems += trouble

    reference = results["solutions"]
    if isinstance(reference, dict):
        graded = _part_points(reference, part_ids)
        for part in parts:
            most = graded[part.id][1]
            if not _same(most, part.points):
                problems.append(f"part {part.id}: the graders give {most:g} points, course.yml gives {part.points:g}")
        tested = {v["exercise"] for v in reference["verdicts"]}
        for part in parts:
            for exercise in part.exercises:
                if exercise.id not in tested:
                    problems.append(f"exercise {exercise.id} ({exercise.name}, part {part.id}) has no grader test")
    # The same broken grader shows up in every hand-in: report it once, with the first hand-in it broke on.
    first_seen: dict[str, str] = {}
    for problem in grader_problems:
        first_seen.setdefault(problem.split(": ", 1)[-1], problem)
    problems += first_seen.values()
    return CheckReport(
        rows=rows,
        problems=problems,
        part_points={part.id: part.points for part in parts},
        seconds=time.perf_counter() - started,
    )


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="coursekit-check-") as name:
        yield Path(name)


def main(argv: list[str] | None = None) -> int:
    """`python -m coursekit.check.checker --one HANDIN_DIR [--course-dir DIR]`: grade one hand-in, print JSON.

    `--batch REQUEST.json` grades many (see `grade_batch`); `check_course` uses it.
    """
    parser = argparse.ArgumentParser(prog="python -m coursekit.check.checker", description=main.__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--one", type=Path, help="the hand-in folder to grade in this process")
    action.add_argument("--batch", type=Path, help="a JSON request: course_dir, handins, jobs, timeout, workdir, out")
    parser.add_argument("--course-dir", type=Path, default=Path.cwd(), help="the course (course.yml, graders/)")
    options = parser.parse_args(argv)
    if options.batch is not None:
        request = json.loads(options.batch.read_text(encoding="utf-8"))
        results = grade_batch(
            course_dir=Path(request["course_dir"]),
            handins={name: Path(path) for name, path in request["handins"].items()},
            jobs=int(request["jobs"]),
            timeout=float(request["timeout"]),
            workdir=Path(request["workdir"]),
        )
        Path(request["out"]).write_text(json.dumps(results), encoding="utf-8")
        return 0
    stdout = sys.stdout
    # The graders' own output must not mix with the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        result = grade_handin(course_dir=options.course_dir.resolve(), handin_dir=options.one.resolve())
    stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
