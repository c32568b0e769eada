"""Exporting grades: `export_grades` turns the grades.csv that ``coursekit grade`` wrote into a file the LMS
imports (Canvas's or Moodle's gradebook import, or a plain CSV joined with the roster).

The way in, an LMS bulk download into hand-ins, is `coursekit.intake.collect`; grades.csv is written and read by
`coursekit.grade.results`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from coursekit.config import Course
from coursekit.errors import CoursekitError
from coursekit.escaping import html_text, neutralise_csv_row
from coursekit.export import ExportTarget, MissingPolicy
from coursekit.grade.results import GradeRow, read_grades_csv
from coursekit.intake.roster import Roster

# RFC 4180 line ends, the form Canvas and Moodle exports use themselves.
CSV_LINE_TERMINATOR = "\r\n"

_DIGITS = re.compile(r"^[0-9]+$")


class ExportError(CoursekitError, ValueError):
    """The export options are unusable: a roster missing where the LMS needs one, a bad Canvas assignment id."""


@dataclass(frozen=True)
class ExportReport:
    """What `export_grades` wrote, and the students it could not place."""

    to: ExportTarget
    dest: Path
    rows: int
    """Student rows written (the Canvas ``Points Possible`` row not counted)."""
    missing: tuple[str, ...]
    """Roster student_ids with no hand-in: given 0, or left blank, as `missing` says."""
    not_in_roster: tuple[str, ...]
    """Hand-ins no roster student matches; only the plain csv lists them (without name, email, section)."""
    unidentified: tuple[str, ...]
    """Roster student_ids the LMS cannot match: for Canvas no canvas_user_id, sis_user_id or sis_login_id (the
    row is written, Canvas falls back to the name); for Moodle no email (the row cannot be written)."""


def format_points(value: float) -> str:
    """Points as the gradebooks show them: at most two decimals, no trailing zeros (``12.5``, ``30``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _match_grades(grades: list[GradeRow], roster: Roster | None) -> tuple[dict[str, GradeRow], list[GradeRow]]:
    """Grades by roster student_id, and the hand-ins no roster student matches."""
    by_student_id: dict[str, GradeRow] = {}
    unmatched: list[GradeRow] = []
    for row in grades:
        student = roster.find(row.student) if roster is not None else None
        if student is None or student.student_id in by_student_id:
            unmatched.append(row)
        else:
            by_student_id[student.student_id] = row
    return by_student_id, unmatched


def export_grades(
    *,
    out_dir: Path,
    to: ExportTarget,
    course: Course,
    dest: Path,
    roster: Roster | None = None,
    missing: MissingPolicy = "zero",
    canvas_assignment_id: str | None = None,
) -> ExportReport:
    """Write the grades in ``out_dir/grades.csv`` as a file that `to` imports.

    - ``canvas``: a Canvas gradebook import CSV (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID,
      Section, <assignment title> (<canvas_assignment_id>)``, a ``Points Possible`` row, then one row per roster
      student with the total. Canvas matches rows by ``ID`` (canvas_user_id), then SIS User ID, then SIS Login ID,
      then name. Without `canvas_assignment_id` the column is the bare title, which Canvas's importer takes as a
      new assignment and creates (unless an assignment of exactly that title exists). Needs a roster.
    - ``moodle``: a Moodle grade import CSV (Grades > Import > CSV file): ``Email address, <assignment title>,
      Feedback``. On import, map "Email address" to the user's email, the title column to the assignment's grade
      item and "Feedback" to its feedback. Needs a roster with emails.
    - ``csv``: ``student_id, name, email, section, <part ids...>, total, max_total, late``: the roster's students,
      then hand-ins the roster does not know (or every hand-in, without a roster).

    Roster students with no hand-in get 0 (`missing` ``"zero"``) or an empty cell (``"blank"``, which both
    gradebooks read as "leave the grade alone"). UTF-8, RFC 4180 quoting, CRLF line ends; a text cell that a
    spreadsheet would run as a formula (``=HYPERLINK(...``) starts with ``'``, and Moodle's feedback is
    HTML-escaped, since Moodle renders it as HTML.
    """
    if to in ("canvas", "moodle") and roster is None:
        raise ExportError(f"export to {to} needs a roster: the LMS identifies students by its own ids and emails")
    if canvas_assignment_id is not None and not _DIGITS.match(canvas_assignment_id):
        raise ExportError(
            f"canvas assignment id {canvas_assignment_id!r} is not a number (it is the number in the "
            "assignment's URL, .../assignments/<id>)"
        )
    grades = read_grades_csv(out_dir=out_dir, course=course)
    graded, unmatched = _match_grades(grades, roster)
    students = roster.students if roster is not None else ()
    missing_ids = tuple(student.student_id for student in students if student.student_id not in graded)
    blank_or_zero = "0" if missing == "zero" else ""

    table: list[list[str]]
    unidentified: list[str] = []
    if to == "canvas":
        title = course.assignment.title
        column = f"{title} ({canvas_assignment_id})" if canvas_assignment_id else title
        table = [
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
            ["Points Possible", "", "", "", "", format_points(course.assignment.points)],
        ]
        for student in students:
            if not (student.canvas_user_id or student.sis_user_id or student.sis_login_id):
                unidentified.append(student.student_id)
            row = graded.get(student.student_id)
            score = format_points(row.total) if row is not None else blank_or_zero
            table.append(
                [
                    student.name,
                    student.canvas_user_id,
                    student.sis_user_id,
                    student.sis_login_id,
                    student.section,
                    score,
                ]
            )
        rows_written = len(table) - 2
    elif to == "moodle":
        table = [["Email address", course.assignment.title, "Feedback"]]
        for student in students:
            if not student.email:
                unidentified.append(student.student_id)
                continue
            row = graded.get(student.student_id)
            if row is not None:
                table.append([student.email, format_points(row.total), _feedback_text(row, course)])
            else:
                table.append([student.email, blank_or_zero, "No hand-in received." if missing == "zero" else ""])
        rows_written = len(table) - 1
    else:
        part_ids = [part.id for part in course.assignment.parts]
        table = [["student_id", "name", "email", "section", *part_ids, "total", "max_total", "late"]]
        max_total = format_points(course.assignment.points)
        for student in students:
            row = graded.get(student.student_id)
            identity = [student.student_id, student.name, student.email, student.section]
            if row is None:
                table.append([*identity, *[blank_or_zero] * len(part_ids), blank_or_zero, max_total, ""])
            else:
                table.append([*identity, *_grade_cells(row, part_ids)])
        for row in sorted(unmatched, key=lambda row: row.student):
            table.append([row.student, "", "", "", *_grade_cells(row, part_ids)])
        rows_written = len(table) - 1

    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream, lineterminator=CSV_LINE_TERMINATOR).writerows(neutralise_csv_row(row) for row in table)
    return ExportReport(
        to=to,
        dest=dest,
        rows=rows_written,
        missing=missing_ids,
        not_in_roster=tuple(sorted(row.student for row in unmatched)) if roster is not None else (),
        unidentified=tuple(unidentified),
    )


def _grade_cells(row: GradeRow, part_ids: list[str]) -> list[str]:
    parts = [_points_or_blank(row.part_scores[part_id]) for part_id in part_ids]
    return [*parts, format_points(row.total), format_points(row.max_total), "1" if row.late else "0"]


def _points_or_blank(value: float | None) -> str:
    return "" if value is None else format_points(value)


def _feedback_text(row: GradeRow, course: Course) -> str:
    """Per-part scores as one line of text, the form Moodle shows in the feedback cell."""
    parts = []
    for part in course.assignment.parts:
        score = row.part_scores[part.id]
        shown = "not graded" if score is None else format_points(score)
        parts.append(f"{part.title} ({part.id}): {shown}/{format_points(part.points)}")
    text = "; ".join(parts) + f". Total {format_points(row.total)}/{format_points(row.max_total)}."
    if row.late:
        text += " Handed in late."
    if row.errors:
        text += f" Problems: {html_text(row.errors)}"
    return text
