"""What a graded class says as a whole: score distributions, item statistics, the mistakes the hints name, the
problems each hand-in met.

Everything here reads `StudentResult`s (coursekit.grade.results reads them back from OUT/results/) and the
course's parts; nothing knows a chapter. Hand-ins that are not graded are left out of every statistic and listed
among the problems.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
import statistics
from collections.abc import Sequence
from typing import Literal

from coursekit.config import Course
from coursekit.grade.results import StudentResult

# A share of the class below which a check or exercise counts as hard: a pass rate under half is worth a look.
HARD_PASS_RATE = 0.5
# A discrimination index under this (corrected point-biserial) separates strong hand-ins from weak ones hardly
# at all; under zero, weak hand-ins pass it more often than strong ones (a misleading instruction, or a check
# that rewards the wrong thing). 0.2 is the usual "poor item" line in classical test theory.
LOW_DISCRIMINATION = 0.2


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Scores of one part (or of the total) across the graded hand-ins."""

    label: str
    points: float
    scores: tuple[float, ...]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    @property
    def full_marks(self) -> int:
        return sum(1 for score in self.scores if score >= self.points - 1e-9)


@dataclasses.dataclass(frozen=True)
class Item:
    """One check (or one exercise, all its checks together) across the graded hand-ins."""

    kind: Literal["check", "exercise"]
    name: str
    exercise: str
    part: str
    points: float
    # How many graded hand-ins passed it (for an exercise: passed every one of its checks), and out of how many.
    passed: int
    students: int
    # The corrected item-total correlation: the point-biserial (for an exercise, Pearson's r of its score) between
    # the item and the total of everything else; None where either side does not vary.
    discrimination: float | None

    @property
    def pass_rate(self) -> float:
        return self.passed / self.students if self.students else 0.0


@dataclasses.dataclass(frozen=True)
class Mistake:
    """The checks that failed with one hint, and the students who met it."""

    hint: str
    checks: tuple[str, ...]
    exercises: tuple[str, ...]
    students: tuple[str, ...]
    failures: int


ProblemKind = Literal["intake", "timeout", "crash", "not graded", "grader error", "zero score", "late"]


@dataclasses.dataclass(frozen=True)
class Problem:
    student: str
    kind: ProblemKind
    detail: str


def graded(results: Sequence[StudentResult]) -> list[StudentResult]:
    """The hand-ins whose grading finished (those that are not graded count in no statistic)."""
    return [result for result in results if result.not_graded is None]


def distributions(results: Sequence[StudentResult], *, course: Course) -> list[Distribution]:
    """One distribution per part, in course.yml's order, then the total."""
    done = graded(results)
    parts = [
        Distribution(
            label=part.title,
            points=part.points,
            scores=tuple(result.part_scores(course)[part.id] for result in done),
        )
        for part in course.assignment.parts
    ]
    total = Distribution(label="Total", points=course.assignment.points, scores=tuple(r.score for r in done))
    return [*parts, total]


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    syy = sum((y - mean_y) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sxx * syy)


def item_analysis(results: Sequence[StudentResult], *, course: Course) -> tuple[list[Item], list[Item]]:
    """(exercises, checks), each sorted hardest first (lowest pass rate, then lowest discrimination).

    Discrimination is the corrected item-total correlation: an item against the total of the rest, so that its
    own points do not flatter it. A check present in only some results (a hand-in graded by an older grader)
    counts over the hand-ins that have it.
    """
    done = graded(results)
    exercise_ids = [exercise.id for part in course.assignment.parts for exercise in part.exercises]
    exercise_part = {exercise.id: part.id for part in course.assignment.parts for exercise in part.exercises}
    exercise_title = {ex.id: f"{ex.id} {ex.title}" for part in course.assignment.parts for ex in part.exercises}
    check_names: dict[str, tuple[str, str, float]] = {}
    for result in done:
        for verdict in result.verdicts:
            check_names.setdefault(verdict.name, (verdict.exercise, verdict.part, verdict.max_score))
    checks = []
    for name, (exercise, part, points) in check_names.items():
        passes, rests = [], []
        for result in done:
            found = next((v for v in result.verdicts if v.name == name), None)
            if found is not None:
                passes.append(1.0 if found.passed else 0.0)
                rests.append(result.score - found.score)
        checks.append(
            Item("check", name, exercise, part, points, int(sum(passes)), len(passes), _pearson(passes, rests))
        )
    exercises = []
    for exercise in exercise_ids:
        shares, rests, passed, points = [], [], 0, 0.0
        for result in done:
            verdicts = [v for v in result.verdicts if v.exercise == exercise]
            if not verdicts:
                continue
            most = sum(v.max_score for v in verdicts)
            points = max(points, most)
            score = sum(v.score for v in verdicts)
            shares.append(score / most if most else 0.0)
            rests.append(result.score - score)
            passed += all(v.passed for v in verdicts)
        if shares:
            title = exercise_title[exercise]
            part = exercise_part[exercise]
            exercises.append(
                Item("exercise", title, exercise, part, points, passed, len(shares), _pearson(shares, rests))
            )
    return _hardest_first(exercises), _hardest_first(checks)


def _hardest_first(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.pass_rate, i.discrimination if i.discrimination is not None else 1.0))


# Clause boundaries inside a hint: after ':' or ';', and after a sentence's '.', '!' or '?' (a '.' inside a name
# such as net.forward() is followed by no space).
_CLAUSES = re.compile(r"(?<=[:;.!?])\s+")
# What varies between students while the mistake stays the same: numbers, quoted values, tensors' reprs.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
_QUOTED = re.compile(r"(?<!\w)'[^'\n]*'(?!\w)|\"[^\"\n]*\"")
_TENSOR = re.compile(r"tensor\((?:[^()]|\([^()]*\))*\)")


def shown_text(markdown: str) -> str:
    """The text a results.json message shows (it is stored as escaped markdown)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def mistake_of(message: str) -> str:
    """The mistake a failure message names, as one key for every student who made it.

    The hints ask about the likely mistake ("did you forget to reset the gradients?"): when a message asks a
    question, the questions are the key; otherwise what follows the first ": " (the hints say what was seen, then
    what it means: "size(net) is 3, expected 4: biases count too"), or the whole
    message; in either, the values that differ between students (numbers, quoted values, tensors) become "…".
    """
    text = " ".join(shown_text(message).split())
    questions = [clause for clause in _CLAUSES.split(text) if clause.endswith("?")]
    if questions:
        return " ".join(questions)
    _, colon, meaning = text.partition(": ")
    if colon and len(meaning.split()) >= 3:
        text = meaning
    text = _TENSOR.sub("…", text)
    text = _QUOTED.sub("…", text)
    return _NUMBER.sub("…", text)


def common_mistakes(results: Sequence[StudentResult], *, course: Course) -> list[Mistake]:
    """The failed checks of the graded hand-ins grouped by the mistake their message names, most students first.

    A hand-in's problems (timeouts, crashes, a part's file missing or broken at intake) are listed under Problems,
    not here; a check that failed with no message is grouped under its own name.
    """
    groups: dict[str, tuple[set[str], set[str], list[int]]] = {}
    exercise_of: dict[str, str] = {}
    for result in graded(results):
        unread = {part.id for part in course.assignment.parts if _unread(result, part.id, part.file)}
        for verdict in result.verdicts:
            # A part whose file was missing or broken at intake fails for that reason alone (see Problems).
            if verdict.passed or verdict.grader_error or verdict.part in unread:
                continue
            if problem_kind(verdict.message) is not None:
                continue
            key = mistake_of(verdict.message) if verdict.message.strip() else f"{verdict.name} failed"
            checks, students, count = groups.setdefault(key, (set(), set(), [0]))
            checks.add(verdict.name)
            exercise_of[verdict.name] = verdict.exercise
            students.add(result.student_id)
            count[0] += 1
    mistakes = [
        Mistake(
            hint=key,
            checks=tuple(sorted(checks)),
            exercises=tuple(sorted({exercise_of[check] for check in checks})),
            students=tuple(sorted(students)),
            failures=count[0],
        )
        for key, (checks, students, count) in groups.items()
    ]
    return sorted(mistakes, key=lambda m: (-len(m.students), -m.failures, m.hint))


def _unread(result: StudentResult, part: str, file: str) -> bool:
    """Whether a part failed because intake could not read its file: a problem names the file, or, with intake
    problems, every check of the part failed with one message (the intake's)."""
    if not result.problems:
        return False
    if any(file in problem for problem in result.problems):
        return True
    verdicts = [v for v in result.verdicts if v.part == part]
    messages = {v.message for v in verdicts if problem_kind(v.message) is None}
    return bool(verdicts) and not any(v.passed for v in verdicts) and len(messages) <= 1


# How coursekit.sandbox.pool words a part whose code ran out of time, or whose worker died.
_TIMEOUT = re.compile(r"did not return within \S+ s|used more than its CPU time")
_CRASH = re.compile(
    r"ended the worker process|worker process (?:was killed|died|exited)|out of memory|killed by signal"
)


def problem_kind(message: str) -> Literal["timeout", "crash"] | None:
    """Whether a failure message says the student's code timed out or its worker died."""
    text = shown_text(message)
    if _TIMEOUT.search(text):
        return "timeout"
    if _CRASH.search(text):
        return "crash"
    return None


def problems(results: Sequence[StudentResult], *, course: Course) -> list[Problem]:
    """Every hand-in's problems: intake, timeouts and crashes (once per part), not graded, grader errors, a zero
    score (the untouched stubs, a hand-in intake could not read), late."""
    found: list[Problem] = []
    titles = {part.id: part.title for part in course.assignment.parts}
    for result in sorted(results, key=lambda r: r.student_id):
        found.extend(Problem(result.student_id, "intake", problem) for problem in result.problems)
        if result.not_graded:
            found.append(Problem(result.student_id, "not graded", result.not_graded))
        seen: set[tuple[str, str]] = set()
        for verdict in result.verdicts:
            kind = None if verdict.passed else problem_kind(verdict.message)
            if kind is not None and (verdict.part, kind) not in seen:
                seen.add((verdict.part, kind))
                part = titles.get(verdict.part, verdict.part)
                found.append(Problem(result.student_id, kind, f"{part}: {shown_text(verdict.message)}"))
        found.extend(Problem(result.student_id, "grader error", name) for name in result.grader_errors)
        if result.not_graded is None and result.score <= 0:
            found.append(Problem(result.student_id, "zero score", f"0 of {course.assignment.points:g} points"))
        if result.late:
            found.append(Problem(result.student_id, "late", "handed in after the due date"))
    return found
