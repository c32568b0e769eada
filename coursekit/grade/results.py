"""What grading writes, and the one place that reads it back: Gradescope's results.json per student, the class's
grades.csv, feedback per student.

Every file is written atomically (a temporary file in the same folder, then `os.replace`), so an interrupted
batch never leaves half a file, and a re-run can trust every results file it finds.

Everything a student controls (their id, problems with the hand-in, verdict messages, what their code printed)
goes through coursekit.escaping: markdown-escaped or fenced in feedback and in results.json's markdown "output"
fields, neutralised in grades.csv, and cut so that no file exceeds `MAX_FILE_BYTES`.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from coursekit.config import Course, Visibility
from coursekit.errors import CoursekitError
from coursekit.escaping import (
    MAX_CSV_TEXT_CHARS,
    MAX_FILE_BYTES,
    MAX_MESSAGE_CHARS,
    TextBudget,
    cut,
    html_code,
    markdown_code_block,
    markdown_inline,
    markdown_link_target,
    markdown_text,
    neutralise_csv_row,
    plain_text,
    restore_csv_cell,
    utf8_size,
    within_file_size,
)
from coursekit.grade.fingerprint import Fingerprint
from coursekit.grade.late import LatePenalty, late_penalty
from coursekit.grade.plugin import Verdict

RESULTS_DIR = "results"
FEEDBACK_DIR = "feedback"
GRADES_CSV = "grades.csv"
# grades.csv's total for a hand-in whose grading could not finish.
NOT_GRADED = "not graded"
# feedback/<student id>-fit.png: the feedback picture beside the student's feedback.
FIGURE_SUFFIX = "fit.png"


class GradesCsvError(CoursekitError, ValueError):
    """grades.csv is missing, or not the one `coursekit grade` writes for this course.yml; the message names the
    file and line."""


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
    # Problems found while unpacking the hand-in, e.g. "ops.py: SyntaxError at line 12: expected ':'".
    problems: tuple[str, ...] = ()
    # What the student's code printed, per part (already capped by the worker).
    output: dict[str, str] = dataclasses.field(default_factory=dict)
    execution_time: float = 0.0
    late: bool = False
    # Whole days begun after the due date, where the LMS says (late.csv; Gradescope's submission metadata).
    days_late: int | None = None
    # The feedback picture (course.yml's chapter.figure drawn from a grader's "figure" attachment), and the part
    # whose grader attached it, under which the feedback shows it.
    figure_png: bytes | None = None
    figure_part: str | None = None
    # The graders' attachment the picture is drawn from (wire-encoded), until `engine.with_figure` draws it.
    figure_data: bytes | None = None
    # The isolation tier the student's code ran in (coursekit.sandbox.pool.Tier), recorded in every results file.
    isolation: str = ""
    # Why grading could not finish (its grading process died): no points, left out of exports, regraded on a re-run.
    not_graded: str | None = None
    # What it was graded with (course.yml, graders, kit, hand-in): a re-run regrades it when any of them changed.
    fingerprint: Fingerprint | None = None

    def part_scores(self, course: Course) -> dict[str, float]:
        scores = {part.id: 0.0 for part in course.assignment.parts}
        for verdict in self.verdicts:
            scores[verdict.part] = scores.get(verdict.part, 0.0) + verdict.score
        return scores

    @property
    def score(self) -> float:
        """The points the checks gave, before any late penalty."""
        return sum(verdict.score for verdict in self.verdicts)

    def late_penalty(self, course: Course) -> LatePenalty | None:
        """What course.yml's late policy takes from this hand-in (coursekit.grade.late); None when on time."""
        if self.not_graded:
            return None
        return late_penalty(
            policy=course.late_policy,
            score=self.score,
            points=course.assignment.points,
            late=self.late,
            days=self.days_late,
        )

    def final_score(self, course: Course) -> float:
        """The score after the late penalty: what grades.csv, results.json and the feedback give as the total."""
        penalty = self.late_penalty(course)
        return self.score - (penalty.deducted if penalty is not None else 0.0)

    @property
    def grader_errors(self) -> list[str]:
        """For the instructor: each check whose grader broke, with its exception and line where known."""
        return [
            f"{verdict.name}: {verdict.grader_exception}" if verdict.grader_exception else verdict.name
            for verdict in self.verdicts
            if verdict.grader_error
        ]


def _rounded(value: float) -> float | int:
    value = round(value, 4)
    return int(value) if value == int(value) else value


def gradescope_results(result: StudentResult, *, course: Course) -> dict[str, Any]:
    """The student's results in Gradescope's results.json schema (uploadable as is), at most MAX_FILE_BYTES.

    Every "output" is markdown (``output_format`` "md"): student text in it is escaped, or fenced where it is
    shown as printed. ``extra_data.problems`` keeps the problems as plain strings, to read them back.

    Each check is shown when course.yml's ``gradescope.visibility`` says (``public_checks`` for the checks that
    mirror a public test, ``other_checks`` for the rest); the top-level output, always shown, names the total
    only when every check is visible (Gradescope hides the total while any check is hidden), and carries the
    feedback picture (course.yml's chapter.figure) as an embedded PNG.
    """
    return within_file_size(
        lambda budget: _gradescope_results(result, course=course, budget=budget),
        size=_json_file_size,
        limit=MAX_FILE_BYTES,
        measure=_json_text_size,
    )


def _gradescope_results(result: StudentResult, *, course: Course, budget: TextBudget) -> dict[str, Any]:
    # Spent in this order when a student's text overruns the file: problems, then hints, then what was printed.
    problems = [budget.fit(cut(problem, MAX_MESSAGE_CHARS), _markdown_line) for problem in result.problems]
    problems_data = [budget.fit(cut(problem, MAX_MESSAGE_CHARS)) for problem in result.problems]
    outputs = [
        budget.fit(cut(verdict.message, MAX_MESSAGE_CHARS), markdown_text) if not verdict.passed else ""
        for verdict in result.verdicts
    ]
    printed = {
        part: budget.fit(text.strip("\n"), markdown_code_block) for part, text in result.output.items() if text.strip()
    }
    blocks = [_score_line(result, course=course)]
    penalty = result.late_penalty(course)
    if penalty is not None:
        blocks.append(markdown_text(penalty.line(with_points=_every_check_visible(result, course=course))))
    if result.not_graded:
        reason = markdown_text(cut(result.not_graded, MAX_MESSAGE_CHARS))
        blocks = [f"{course.assignment.title}: not graded yet ({reason}); your instructor will regrade it."]
    if problems:
        blocks.append("Problems with the hand-in:\n\n" + "\n".join(f"- {problem}" for problem in problems))
    if result.figure_png is not None:
        # Drawn on the trusted side by the course's code from plain data: the image is ours, not the student's.
        image = base64.b64encode(result.figure_png).decode("ascii")
        caption = markdown_inline(course.chapter.figure_caption)
        blocks.append(f"{caption}:\n\n![{caption}](data:image/png;base64,{image})")
    blocks.extend(f"Your code printed while the {part} part was graded:\n\n{text}" for part, text in printed.items())
    return {
        "score": _rounded(result.final_score(course)),
        "execution_time": round(result.execution_time, 3),
        "output": "\n\n".join(blocks),
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        # The top-level output (the score line, problems with the hand-in, the picture) is always shown; each
        # check carries its own visibility.
        "visibility": "visible",
        "stdout_visibility": course.gradescope.stdout_visibility,
        # Read back when a batch resumes, so grades.csv keeps every student's problems and late flag.
        "extra_data": {
            "student": result.student_id,
            "problems": problems_data,
            "late": result.late,
            "days_late": result.days_late,
            "late_penalty": _rounded(penalty.deducted) if penalty is not None else 0,
            "grader_errors": result.grader_errors,
            "not_graded": result.not_graded,
            "isolation": result.isolation,
            # The part whose graders attached the feedback picture (feedback/<id>-fit.png), if any.
            "figure_part": result.figure_part if result.figure_png is not None else None,
            "fingerprint": result.fingerprint.as_dict() if result.fingerprint is not None else None,
        },
        "tests": [
            {
                "name": verdict.name,
                "number": verdict.exercise,
                "score": _rounded(verdict.score),
                "max_score": _rounded(verdict.max_score),
                "status": "passed" if verdict.passed else "failed",
                "output": output,
                "visibility": course.gradescope.visibility.of(public=verdict.public),
                "tags": [verdict.part],
                "extra_data": {"public": verdict.public},
            }
            for verdict, output in zip(result.verdicts, outputs, strict=True)
        ],
    }


# How the score line names the moment the other checks appear.
_SHOWN_WHEN: dict[Visibility, str] = {
    "after_due_date": "after the due date",
    "after_published": "when your instructor publishes the grades",
    "hidden": "to your instructor only",
}


def _every_check_visible(result: StudentResult, *, course: Course) -> bool:
    return all(course.gradescope.visibility.of(public=verdict.public) == "visible" for verdict in result.verdicts)


def _score_line(result: StudentResult, *, course: Course) -> str:
    """The total, when every check is visible; else the points of the visible checks, and when the rest appear."""
    title, most = course.assignment.title, _rounded(course.assignment.points)
    settings = [course.gradescope.visibility.of(public=verdict.public) for verdict in result.verdicts]
    shown = [verdict for verdict, setting in zip(result.verdicts, settings, strict=True) if setting == "visible"]
    if len(shown) == len(result.verdicts):
        return f"{title}: {_rounded(result.final_score(course))} / {most} points."
    when = " or ".join(_SHOWN_WHEN[setting] for setting in sorted(set(settings) - {"visible"}))
    if not shown:
        return f"{title}: your score (out of {most} points) and its checks are shown {when}."
    score, shown_most = _rounded(sum(v.score for v in shown)), _rounded(sum(v.max_score for v in shown))
    return (
        f"{title}: {score} / {shown_most} points in the checks shown now; the other checks, and your total out of "
        f"{most} points, are shown {when}."
    )


def _results_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _json_file_size(data: dict[str, Any]) -> int:
    return utf8_size(_results_json(data))


def _json_text_size(text: str) -> int:
    """What `text` costs inside a JSON string: its escapes, without the quotes."""
    return utf8_size(json.dumps(text, ensure_ascii=False)) - 2


def _markdown_line(text: str) -> str:
    return markdown_text(text, lines=False)


def results_json_path(out_dir: Path, student_id: str) -> Path:
    """Where `write_student_result` puts a student's results.json under OUT."""
    return out_dir / RESULTS_DIR / f"{student_id}.json"


def graded_students(out_dir: Path) -> list[str]:
    """The students with a results.json under OUT, sorted."""
    return sorted(path.stem for path in (out_dir / RESULTS_DIR).glob("*.json"))


def read_results_json(path: Path) -> dict[str, Any]:
    """A results.json as written, in Gradescope's schema."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def read_student_result(out_dir: Path, student_id: str) -> StudentResult | None:
    """A student's result read back from OUT/results/<id>.json; None when they have none."""
    path = results_json_path(out_dir, student_id)
    if not path.is_file():
        return None
    return result_from_results(read_results_json(path), student_id=student_id)


def result_from_results(data: dict[str, Any], *, student_id: str) -> StudentResult:
    """Read a student's result back from their results.json (to resume a batch or rebuild grades.csv).

    Messages come back as the markdown the student was shown; problems as the plain strings of extra_data.
    """
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
                public=bool(test.get("extra_data", {}).get("public", False)),
            )
        )
    extra = data.get("extra_data", {})
    return StudentResult(
        student_id=student_id,
        verdicts=tuple(verdicts),
        problems=tuple(extra.get("problems", ())),
        execution_time=float(data.get("execution_time", 0.0)),
        late=bool(extra.get("late", False)),
        days_late=int(extra["days_late"]) if extra.get("days_late") else None,
        not_graded=str(extra["not_graded"]) if extra.get("not_graded") else None,
        isolation=str(extra.get("isolation", "")),
        figure_part=str(extra["figure_part"]) if extra.get("figure_part") else None,
        fingerprint=Fingerprint.from_dict(extra.get("fingerprint")),
    )


def feedback_markdown(result: StudentResult, *, course: Course) -> str:
    """The student's feedback: per part, per check, passed or failed with its hint; at most MAX_FILE_BYTES.

    Student text is markdown-escaped (the id, problems, hints), or shown as printed in a fence it cannot close.
    """
    return within_file_size(
        lambda budget: _feedback_markdown(result, course=course, budget=budget), size=utf8_size, limit=MAX_FILE_BYTES
    )


def _feedback_markdown(result: StudentResult, *, course: Course, budget: TextBudget) -> str:
    scores = result.part_scores(course)
    out = io.StringIO()
    # Titles and check names are the course's, but text all the same: `__init__` is no bold "init".
    out.write(f"# {markdown_inline(course.assignment.title)}\n\n")
    student = markdown_inline(result.student_id)
    if result.not_graded:
        out.write(f"**{student}: not graded yet.** Grading could not finish ({markdown_inline(result.not_graded)}); ")
        out.write("your instructor has been told and will regrade your hand-in.\n")
        return out.getvalue()
    out.write(
        f"**{student}: {_rounded(result.final_score(course))} / {_rounded(course.assignment.points)} points**\n\n"
    )
    penalty = result.late_penalty(course)
    if penalty is not None:
        out.write(f"{markdown_text(penalty.line(with_points=True))}\n\n")
    if result.problems:
        out.write("## Problems with your hand-in\n\n")
        for problem in result.problems:
            out.write(f"- {budget.fit(cut(problem, MAX_MESSAGE_CHARS), _markdown_line)}\n")
        out.write("\n")
    for part in course.assignment.parts:
        heading = markdown_inline(f"{part.title} ({part.file})")
        out.write(f"## {heading}: {_rounded(scores[part.id])} / {_rounded(part.points)}\n\n")
        for exercise in part.exercises:
            verdicts = [v for v in result.verdicts if v.part == part.id and v.exercise == exercise.id]
            if not verdicts:
                continue
            name = markdown_inline(f"{exercise.id} {exercise.name}")
            score, most = sum(v.score for v in verdicts), sum(v.max_score for v in verdicts)
            failed = [v for v in verdicts if not v.passed]
            messages = {v.message for v in failed}
            if not failed:
                # Passes collapse to one line per exercise; failures are shown in full.
                out.write(f"- passed ({_rounded(score)}/{_rounded(most)}) {name}: {_checks(len(verdicts))}\n")
            elif len(verdicts) > 1 and len(failed) == len(verdicts) and len(messages) == 1:
                # One cause for every check (a stub, a crash, a missing file): say it once.
                out.write(f"- FAILED (0/{_rounded(most)}) {name}: all {len(verdicts)} checks\n")
                out.write(_quoted(messages.pop(), budget))
            else:
                out.write(
                    f"- {_rounded(score)}/{_rounded(most)} {name}: {len(failed)} of {_checks(len(verdicts))} failed\n"
                )
                for verdict in failed:
                    out.write(
                        f"  - FAILED ({_rounded(verdict.score)}/{_rounded(verdict.max_score)}) "
                        f"{markdown_inline(verdict.name)}\n"
                    )
                    if verdict.message:
                        out.write("  " + _quoted(verdict.message, budget).replace("\n  >", "\n    >"))
        printed = result.output.get(part.id, "").strip("\n")
        if printed.strip():
            out.write(f"\nYour code printed:\n\n{budget.fit(printed, markdown_code_block)}")
        if part.id == result.figure_part and result.figure_png is not None:
            target = markdown_link_target(f"{result.student_id}-{FIGURE_SUFFIX}")
            out.write(f"\n![{markdown_inline(course.chapter.figure_caption)}]({target})\n")
        out.write("\n")
    return out.getvalue()


def _checks(count: int) -> str:
    return "1 check" if count == 1 else f"{count} checks"


def _quoted(message: str, budget: TextBudget) -> str:
    """A hint as a blockquote under its list item; every line carries the quote, so none can leave it."""
    text = budget.fit(cut(message, MAX_MESSAGE_CHARS), markdown_text)
    return "  > " + text.replace("\n", "\n  > ") + "\n"


# One self-contained page (inline style, the picture as a data: URI, no script): an LMS comment or an email can
# carry it. Its policy lets it load nothing else and run no script, whatever escaping might miss. Autoescaped;
# student text arrives already escaped by `_feedback_html`, as Markup.
_FEEDBACK_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
base-uri 'none'; form-action 'none'">
<title>{{ title }}: {{ student }}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #ddd; }
.passed { color: #16632b; } .failed { color: #a3161b; font-weight: 600; }
blockquote, pre { white-space: pre-wrap; background: #f6f6f6; padding: .4rem .7rem; margin: .3rem 0 .6rem 1.2rem; }
blockquote { border-left: 3px solid #a3161b; } ul { padding-left: 1.2rem; } img { max-width: 100%; }
</style></head><body>
<h1>{{ title }}</h1>
{% if not_graded %}
<p><strong>{{ student }}: not graded yet.</strong> Grading could not finish ({{ not_graded }}); your instructor has
been told and will regrade your hand-in.</p>
{% else %}
<p><strong>{{ student }}: {{ score }} / {{ most }} points</strong></p>
{% if problems %}<h2>Problems with your hand-in</h2><ul>{% for problem in problems %}<li>{{ problem }}</li>{% endfor %}</ul>
{% endif %}
{% for part in parts %}
<h2>{{ part.heading }}: {{ part.score }} / {{ part.most }}</h2>
<ul>
{% for exercise in part.exercises %}
<li>{% if exercise.passed %}<span class="passed">passed</span> ({{ exercise.score }}/{{ exercise.most }})
{{ exercise.name }}: {{ exercise.checks }}
{% else %}<span class="failed">{{ exercise.score }}/{{ exercise.most }}</span> {{ exercise.name }}: {{ exercise.checks }}
<ul>{% for failure in exercise.failures %}<li><span class="failed">FAILED</span> ({{ failure.score }}/{{ failure.most }})
{{ failure.name }}{% if failure.message %}<blockquote>{{ failure.message }}</blockquote>{% endif %}</li>{% endfor %}</ul>
{% endif %}</li>
{% endfor %}
</ul>
{% if part.printed %}<p>Your code printed:</p><pre>{{ part.printed }}</pre>{% endif %}
{% if part.figure %}<figure><img src="data:image/png;base64,{{ part.figure }}" alt="{{ caption }}">
<figcaption>{{ caption }}</figcaption></figure>{% endif %}
{% endfor %}
{% endif %}
</body></html>
"""


def feedback_html(result: StudentResult, *, course: Course) -> str:
    """The student's feedback as one self-contained HTML page, the picture embedded; at most MAX_FILE_BYTES.

    The same content as `feedback_markdown`: a subtotal per part and exercise, passes on one line per exercise,
    failures in full. Every string is escaped (jinja2's autoescape; student text through coursekit.escaping).
    """
    return within_file_size(
        lambda budget: _feedback_html(result, course=course, budget=budget), size=utf8_size, limit=MAX_FILE_BYTES
    )


def _feedback_html(result: StudentResult, *, course: Course, budget: TextBudget) -> str:
    import jinja2
    from markupsafe import Markup

    def student_text(text: str) -> Markup:
        return Markup(budget.fit(cut(text, MAX_MESSAGE_CHARS), html_code))

    scores = result.part_scores(course)
    parts = []
    for part in course.assignment.parts:
        exercises = []
        for exercise in part.exercises:
            verdicts = [v for v in result.verdicts if v.part == part.id and v.exercise == exercise.id]
            if not verdicts:
                continue
            failed = [v for v in verdicts if not v.passed]
            messages = {v.message for v in failed}
            one_cause = len(verdicts) > 1 and len(failed) == len(verdicts) and len(messages) == 1
            if one_cause:
                failures = [
                    {
                        "name": f"all {len(verdicts)} checks",
                        "score": 0,
                        "most": _rounded(sum(v.max_score for v in verdicts)),
                        "message": student_text(messages.pop()),
                    }
                ]
            else:
                failures = [
                    {
                        "name": v.name,
                        "score": _rounded(v.score),
                        "most": _rounded(v.max_score),
                        "message": student_text(v.message) if v.message else "",
                    }
                    for v in failed
                ]
            exercises.append(
                {
                    "name": f"{exercise.id} {exercise.name}",
                    "passed": not failed,
                    "score": _rounded(sum(v.score for v in verdicts)),
                    "most": _rounded(sum(v.max_score for v in verdicts)),
                    "checks": _checks(len(verdicts))
                    if not failed
                    else f"{len(failed)} of {_checks(len(verdicts))} failed",
                    "failures": failures,
                }
            )
        printed = result.output.get(part.id, "").strip("\n")
        figure = part.id == result.figure_part and result.figure_png is not None
        parts.append(
            {
                "heading": f"{part.title} ({part.file})",
                "score": _rounded(scores[part.id]),
                "most": _rounded(part.points),
                "exercises": exercises,
                "printed": Markup(budget.fit(printed, html_code)) if printed.strip() else "",
                "figure": base64.b64encode(result.figure_png).decode("ascii") if figure and result.figure_png else "",
            }
        )
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    return environment.from_string(_FEEDBACK_PAGE).render(
        title=course.assignment.title,
        student=result.student_id,
        not_graded=cut(result.not_graded, MAX_MESSAGE_CHARS) if result.not_graded else "",
        score=_rounded(result.score),
        most=_rounded(course.assignment.points),
        problems=[student_text(problem) for problem in result.problems],
        parts=parts,
        caption=course.chapter.figure_caption,
    )


def write_student_result(result: StudentResult, *, course: Course, out_dir: Path) -> None:
    """Write results/<id>.json, feedback/<id>.md (+ the feedback picture's PNG) and feedback/<id>.html."""
    feedback_dir = out_dir / FEEDBACK_DIR
    if result.figure_png is not None:
        write_atomically(feedback_dir / f"{result.student_id}-{FIGURE_SUFFIX}", result.figure_png)
    write_atomically(feedback_dir / f"{result.student_id}.md", feedback_markdown(result, course=course).encode())
    write_atomically(feedback_dir / f"{result.student_id}.html", feedback_html(result, course=course).encode())
    payload = _results_json(gradescope_results(result, course=course))
    # results.json last: its presence marks the student as graded when a batch resumes.
    write_atomically(results_json_path(out_dir, result.student_id), payload.encode())


def grades_csv(rows: Sequence[StudentResult], *, course: Course) -> str:
    """grades.csv: student, one column per part, total, max_total, late, days_late, late_penalty, errors.

    ``total`` is the score after the late penalty (``late_penalty`` points, coursekit.grade.late); the part
    columns are what the checks gave. ``days_late`` is empty when on time or not known.

    Text cells are neutralised against spreadsheet formulas (`read_grades_csv` restores them); the errors cell is
    plain text, cut to MAX_CSV_TEXT_CHARS.
    A hand-in that is not graded has empty part cells and ``not graded`` as its total, never a number.
    """
    parts = [part.id for part in course.assignment.parts]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(grades_csv_columns(course))
    for row in sorted(rows, key=lambda r: r.student_id):
        scores = row.part_scores(course)
        errors = plain_text(cut("; ".join(row.problems), MAX_CSV_TEXT_CHARS))
        if row.not_graded:
            reason = plain_text(cut(f"not graded: {row.not_graded}; {errors}".removesuffix("; "), MAX_CSV_TEXT_CHARS))
            empty = ["" for _ in parts]
            writer.writerow(
                neutralise_csv_row(
                    [
                        row.student_id,
                        *empty,
                        NOT_GRADED,
                        _rounded(course.assignment.points),
                        int(row.late),
                        row.days_late or "",
                        "",
                        reason,
                    ]
                )
            )
            continue
        penalty = row.late_penalty(course)
        writer.writerow(
            neutralise_csv_row(
                [
                    row.student_id,
                    *(_rounded(scores[part]) for part in parts),
                    _rounded(row.final_score(course)),
                    _rounded(course.assignment.points),
                    int(row.late),
                    row.days_late or "",
                    _rounded(penalty.deducted) if penalty is not None else 0,
                    errors,
                ]
            )
        )
    return out.getvalue()


def grades_csv_columns(course: Course) -> list[str]:
    """grades.csv's header: student, the part ids of course.yml, total, max_total, late, days_late, late_penalty,
    errors."""
    parts = [part.id for part in course.assignment.parts]
    return ["student", *parts, "total", "max_total", "late", "days_late", "late_penalty", "errors"]


def write_grades_csv(rows: Iterable[StudentResult], *, course: Course, out_dir: Path) -> Path:
    path = out_dir / GRADES_CSV
    write_atomically(path, grades_csv(list(rows), course=course).encode())
    return path


@dataclasses.dataclass(frozen=True)
class GradeRow:
    """One row of OUT/grades.csv: a graded hand-in."""

    student: str
    part_scores: dict[str, float | None]
    total: float
    """After the late penalty."""
    max_total: float
    late: bool
    days_late: int | None
    late_penalty: float
    errors: str


def read_grades_csv(*, out_dir: Path, course: Course) -> list[GradeRow]:
    """Read ``out_dir/grades.csv``, checking its columns against course.yml's parts; errors name file and line.

    Text comes back as it was before `grades_csv` neutralised it against spreadsheet formulas. A hand-in that is
    not graded is an error: exporting it as a number would put a grade nobody gave into the gradebook.
    """
    path = out_dir / GRADES_CSV
    part_ids = [part.id for part in course.assignment.parts]
    expected = grades_csv_columns(course)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise GradesCsvError(f"{path}: cannot read: {error.strerror}; run coursekit grade first") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header != expected:
        raise GradesCsvError(f"{path}, line 1: columns {header} do not match course.yml; expected {expected}")
    grades: list[GradeRow] = []
    seen: dict[str, int] = {}
    for fields in rows:
        line = rows.line_num
        if not any(fields):
            continue
        if len(fields) != len(expected):
            raise GradesCsvError(f"{path}, line {line}: {len(fields)} fields, the header has {len(expected)}")
        values = {column: restore_csv_cell(field) for column, field in zip(expected, fields, strict=True)}
        student = values["student"]
        if not student:
            raise GradesCsvError(f"{path}, line {line}: missing student")
        if student in seen:
            raise GradesCsvError(f"{path}, line {line}: student {student!r} already on line {seen[student]}")
        seen[student] = line
        if values["total"] == NOT_GRADED:
            raise GradesCsvError(
                f"{path}, line {line}: {student} is not graded ({values['errors']}); "
                "run coursekit grade again (it grades only what is not graded yet), then export"
            )
        try:
            part_scores = {part_id: float(values[part_id]) if values[part_id] else None for part_id in part_ids}
            total = float(values["total"])
            max_total = float(values["max_total"])
        except ValueError as error:
            raise GradesCsvError(f"{path}, line {line}: not a number: {error}") from None
        if values["late"] not in ("0", "1"):
            raise GradesCsvError(f"{path}, line {line}: late must be 0 or 1, got {values['late']!r}")
        if values["days_late"] and not values["days_late"].isdigit():
            raise GradesCsvError(f"{path}, line {line}: days_late must be a whole number, got {values['days_late']!r}")
        try:
            penalty = float(values["late_penalty"] or 0)
        except ValueError as error:
            raise GradesCsvError(f"{path}, line {line}: not a number: {error}") from None
        if abs(max_total - course.assignment.points) > 1e-9:
            raise GradesCsvError(
                f"{path}, line {line}: max_total {_rounded(max_total)} is not course.yml's "
                f"{_rounded(course.assignment.points)}; was it graded with another course.yml?"
            )
        grades.append(
            GradeRow(
                student=student,
                part_scores=part_scores,
                total=total,
                max_total=max_total,
                late=values["late"] == "1",
                days_late=int(values["days_late"]) if values["days_late"] else None,
                late_penalty=penalty,
                errors=values["errors"],
            )
        )
    return grades
