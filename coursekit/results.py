"""What grading writes: Gradescope's results.json per student, the class's grades.csv, feedback per student.

Every file is written atomically (a temporary file in the same folder, then `os.replace`), so an interrupted
batch never leaves half a file, and a re-run can trust every results file it finds.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from coursekit.config import Course
from coursekit.plugin import Verdict

RESULTS_DIR = "results"
FEEDBACK_DIR = "feedback"
GRADES_CSV = "grades.csv"
# grades.csv's total for a hand-in whose grading could not finish.
NOT_GRADED = "not graded"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclasses.dataclass(frozen=True)
class StudentResult:
    """One student's grading: the verdicts plus what the instructor and student need around them."""

    student_id: str
    verdicts: tuple[Verdict, ...]
    # Problems found while unpacking the hand-in, e.g. "model.py: SyntaxError at line 12: expected ':'".
    problems: tuple[str, ...] = ()
    # What the student's code printed, per part (already capped by the worker).
    output: dict[str, str] = dataclasses.field(default_factory=dict)
    execution_time: float = 0.0
    late: bool = False
    # PNG of the student's fitted curve beside the measurements, when their training part ran.
    fit_png: bytes | None = None
    # Why grading could not finish (its grading process died): no points, left out of exports, regraded on a re-run.
    not_graded: str | None = None

    def part_scores(self, course: Course) -> dict[str, float]:
        scores = {part.id: 0.0 for part in course.assignment.parts}
        for verdict in self.verdicts:
            scores[verdict.part] = scores.get(verdict.part, 0.0) + verdict.score
        return scores

    @property
    def score(self) -> float:
        return sum(verdict.score for verdict in self.verdicts)

    @property
    def grader_errors(self) -> list[str]:
        return [verdict.name for verdict in self.verdicts if verdict.grader_error]


def _rounded(value: float) -> float | int:
    value = round(value, 4)
    return int(value) if value == int(value) else value


def gradescope_results(result: StudentResult, *, course: Course) -> dict[str, Any]:
    """The student's results in Gradescope's results.json schema (uploadable as is)."""
    lines = [f"{course.assignment.title}: {_rounded(result.score)} / {_rounded(course.assignment.points)} points."]
    if result.not_graded:
        lines = [f"{course.assignment.title}: not graded yet ({result.not_graded}); your instructor will regrade it."]
    if result.problems:
        lines.append("Problems with the hand-in:")
        lines.extend(f"- {problem}" for problem in result.problems)
    for part, text in result.output.items():
        if text.strip():
            lines.append(f"Your code printed while the {part} part was graded:\n{text}")
    return {
        "score": _rounded(result.score),
        "execution_time": round(result.execution_time, 3),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        # Read back when a batch resumes, so grades.csv keeps every student's problems and late flag.
        "extra_data": {
            "student": result.student_id,
            "problems": list(result.problems),
            "late": result.late,
            "grader_errors": result.grader_errors,
            "not_graded": result.not_graded,
        },
        "tests": [
            {
                "name": verdict.name,
                "number": verdict.exercise,
                "score": _rounded(verdict.score),
                "max_score": _rounded(verdict.max_score),
                "status": "passed" if verdict.passed else "failed",
                "output": verdict.message if not verdict.passed else "",
                "visibility": "visible",
                "tags": [verdict.part],
            }
            for verdict in result.verdicts
        ],
    }


def result_from_results(data: dict[str, Any], *, student_id: str) -> StudentResult:
    """Read a student's result back from their results.json (to resume a batch or rebuild grades.csv)."""
    verdicts = []
    for test in data.get("tests", []):
        part = test["tags"][0]
        verdicts.append(
            Verdict(
                test_id=test["name"],
                name=test["name"],
                exercise=str(test.get("number", "")),
                part=part,
                max_score=float(test["max_score"]),
                score=float(test["score"]),
                passed=test["status"] == "passed",
                message=test.get("output", ""),
            )
        )
    extra = data.get("extra_data", {})
    return StudentResult(
        student_id=student_id,
        verdicts=tuple(verdicts),
        problems=tuple(extra.get("problems", ())),
        execution_time=float(data.get("execution_time", 0.0)),
        late=bool(extra.get("late", False)),
        not_graded=str(extra["not_graded"]) if extra.get("not_graded") else None,
    )


def feedback_markdown(result: StudentResult, *, course: Course) -> str:
    """The student's feedback: per part, per check, passed or failed with its hint."""
    scores = result.part_scores(course)
    out = io.StringIO()
    out.write(f"# {course.assignment.title}\n\n")
    if result.not_graded:
        out.write(f"**{result.student_id}: not graded yet.** Grading could not finish ({result.not_graded}); ")
        out.write("your instructor has been told and will regrade your hand-in.\n")
        return out.getvalue()
    out.write(f"**{result.student_id}: {_rounded(result.score)} / {_rounded(course.assignment.points)} points**\n\n")
    if result.problems:
        out.write("## Problems with your hand-in\n\n")
        out.writelines(f"- {problem}\n" for problem in result.problems)
        out.write("\n")
    for part in course.assignment.parts:
        out.write(f"## {part.title} ({part.file}): {_rounded(scores[part.id])} / {_rounded(part.points)}\n\n")
        for exercise in part.exercises:
            verdicts = [v for v in result.verdicts if v.part == part.id and v.exercise == exercise.id]
            messages = {v.message for v in verdicts if not v.passed}
            if len(verdicts) > 1 and not any(v.passed for v in verdicts) and len(messages) == 1:
                # One cause for every check (a stub, a crash, a missing file): say it once.
                most = sum(v.max_score for v in verdicts)
                out.write(f"- FAILED (0/{_rounded(most)}) {exercise.id} {exercise.name}: all {len(verdicts)} checks\n")
                out.write(_quoted(messages.pop()))
                continue
            for verdict in verdicts:
                mark = "passed" if verdict.passed else "FAILED"
                out.write(f"- {mark} ({_rounded(verdict.score)}/{_rounded(verdict.max_score)}) {verdict.name}\n")
                if not verdict.passed and verdict.message:
                    out.write(_quoted(verdict.message))
        printed = result.output.get(part.id, "").strip()
        if printed:
            out.write(f"\nYour code printed:\n\n```\n{printed}\n```\n")
        if part.id == "training" and result.fit_png is not None:
            out.write(f"\n![Your model's fit beside the measurements]({result.student_id}-fit.png)\n")
        out.write("\n")
    return out.getvalue()


def _quoted(message: str) -> str:
    return "  > " + message.replace("\n", "\n  > ") + "\n"


def write_student_result(result: StudentResult, *, course: Course, out_dir: Path) -> None:
    """Write results/<id>.json and feedback/<id>.md (+ the fit's PNG)."""
    feedback_dir = out_dir / FEEDBACK_DIR
    if result.fit_png is not None:
        write_atomically(feedback_dir / f"{result.student_id}-fit.png", result.fit_png)
    write_atomically(feedback_dir / f"{result.student_id}.md", feedback_markdown(result, course=course).encode())
    payload = json.dumps(gradescope_results(result, course=course), indent=2, ensure_ascii=False) + "\n"
    # results.json last: its presence marks the student as graded when a batch resumes.
    write_atomically(out_dir / RESULTS_DIR / f"{result.student_id}.json", payload.encode())


def grades_csv(rows: Sequence[StudentResult], *, course: Course) -> str:
    """grades.csv: student, one column per part, total, max_total, late, errors.

    A hand-in that is not graded has empty part cells and ``not graded`` as its total, never a number.
    """
    parts = [part.id for part in course.assignment.parts]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *parts, "total", "max_total", "late", "errors"])
    for row in sorted(rows, key=lambda r: r.student_id):
        scores = row.part_scores(course)
        errors = "; ".join(row.problems)
        if row.not_graded:
            reason = f"not graded: {row.not_graded}" + (f"; {errors}" if errors else "")
            empty = ["" for _ in parts]
            writer.writerow(
                [row.student_id, *empty, NOT_GRADED, _rounded(course.assignment.points), int(row.late), reason]
            )
            continue
        writer.writerow(
            [
                row.student_id,
                *(_rounded(scores[part]) for part in parts),
                _rounded(row.score),
                _rounded(course.assignment.points),
                int(row.late),
                errors,
            ]
        )
    return out.getvalue()


def write_grades_csv(rows: Iterable[StudentResult], *, course: Course, out_dir: Path) -> Path:
    path = out_dir / GRADES_CSV
    write_atomically(path, grades_csv(list(rows), course=course).encode())
    return path
