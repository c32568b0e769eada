"""Exporting grades: `export_grades` turns the grades.csv that ``coursekit grade`` wrote into a file the LMS
imports (Canvas's gradebook import, Moodle's offline grading worksheet, or a plain CSV joined with the roster).

The way in, an LMS bulk download into hand-ins, is `coursekit.intake.collect`; grades.csv is written and read by
`coursekit.grade.results`; the worksheet by `coursekit.intake.worksheet`.

Rescaling (`points`): an LMS assignment worth N points gets ``total * N / max_total``, rounded half up to two
decimals, and never more than N. Every grade the LMS gets is rounded by that rule (`lms_points`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

from coursekit.config import Course
from coursekit.errors import CoursekitError
from coursekit.escaping import html_text, neutralise_csv_row
from coursekit.export import ExportTarget, MissingPolicy
from coursekit.grade.late import late_penalty
from coursekit.grade.results import GradeRow, read_grades_csv
from coursekit.intake.roster import Roster
from coursekit.intake.worksheet import FEEDBACK_COMMENTS, GRADE_CAN_BE_CHANGED, MoodleWorksheet, fill_worksheet

# RFC 4180 line ends, the form Canvas and Moodle exports use themselves.
CSV_LINE_TERMINATOR = "\r\n"

_DIGITS = re.compile(r"^[0-9]+$")


class ExportError(CoursekitError, ValueError):
    """The export options are unusable (a roster or worksheet missing where the LMS needs one, a bad Canvas
    assignment id, points the LMS cannot hold), or grades.csv disagrees with course.yml's late policy."""


@dataclass(frozen=True)
class ExportReport:
    """What `export_grades` wrote, and the students it could not place."""

    to: ExportTarget
    dest: Path
    rows: int
    """Student rows written (the Canvas ``Points Possible`` row not counted); for Moodle, the rows filled in."""
    missing: tuple[str, ...]
    """Roster student_ids (for Moodle, worksheet participants) with no hand-in: given 0, or left blank, as
    `missing` says."""
    not_in_roster: tuple[str, ...]
    """Hand-ins no roster student (for Moodle, no worksheet row) matches; only the plain csv lists them."""
    unidentified: tuple[str, ...]
    """Roster student_ids the LMS cannot match: for Canvas no canvas_user_id, sis_user_id or sis_login_id (the
    row is written, Canvas falls back to the name)."""
    locked: tuple[str, ...] = ()
    """Moodle participants whose worksheet row says the grade cannot be changed: left as downloaded."""
    points: float | None = None
    """What the LMS assignment is worth, when the grades were rescaled to it."""
    warnings: tuple[str, ...] = ()


def lms_points(total: float, *, max_total: float, points: float | None) -> str:
    """A grade for the LMS: `total` of `max_total`, rescaled to `points` when given; rounded half up to two
    decimals and never above the maximum (``60.333`` -> ``60.33``; 85.5 of 100 at 7.5 points -> ``6.41``)."""
    most = Decimal(str(points)) if points is not None else Decimal(str(max_total))
    value = Decimal(str(total))
    if points is not None:
        value = value * most / Decimal(str(max_total))
    value = min(max(value, Decimal(0)), most).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # Rounding up to two decimals can pass a maximum with more decimals (7.125 -> 7.13 > 7.125).
    if value > most:
        value = most.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return format_points(float(value))


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
    points: float | None = None,
    worksheet: MoodleWorksheet | None = None,
) -> ExportReport:
    """Write the grades in ``out_dir/grades.csv`` as a file that `to` imports.

    - ``canvas``: a Canvas gradebook import CSV (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID,
      Section, <assignment title> (<canvas_assignment_id>)``, a ``Points Possible`` row, then one row per roster
      student with the total. Canvas matches rows by ``ID`` (canvas_user_id), then SIS User ID, then SIS Login ID,
      then name. Without `canvas_assignment_id` the column is the bare title, which Canvas's importer takes as a
      new assignment and creates (unless an assignment of exactly that title exists). Needs a roster.
    - ``moodle``: the assignment's offline grading worksheet (`worksheet`, as downloaded from Moodle), with Grade and
      Feedback comments filled in for every participant with a hand-in (upload it under the assignment's "Upload
      grading worksheet"). Unlike the gradebook's CSV import, it grades the assignment itself: Moodle's gradebook
      does not mark the grades overridden, and the assignment's feedback and grading table show them. Participants
      are matched by the worksheet's Identifier (the participant id of the bulk download, the roster's moodle_id);
      with a roster, hand-ins named by student_id are linked through it. Rows whose grade cannot be changed are left
      as they are and listed in ``locked``. Grades are rescaled to the worksheet's Maximum Grade (Moodle refuses a
      grade above it); `points` must agree with it.
    - ``csv``: ``student_id, name, email, section, <part ids...>, total, max_total, late, days_late, late_penalty``:
      the roster's students, then hand-ins the roster does not know (or every hand-in, without a roster).

    `points` rescales to an LMS assignment not worth course.yml's points (`lms_points` gives the rounding).
    Every total is checked against course.yml's late policy (coursekit.grade.late): a grades.csv graded under
    another policy is an error, never exported. Roster students with no hand-in get 0 (`missing` ``"zero"``) or
    an empty cell (``"blank"``, which both LMSs read as "leave the grade alone"). UTF-8, RFC 4180 quoting; a text
    cell that a spreadsheet would run as a formula (``=HYPERLINK(...``) starts with ``'``, and Moodle's feedback is
    HTML-escaped, since Moodle renders it as HTML.
    """
    if to == "canvas" and roster is None:
        raise ExportError("export to canvas needs a roster: Canvas identifies students by its own ids")
    if to == "moodle" and worksheet is None:
        raise ExportError(
            "export to moodle needs the assignment's grading worksheet (--worksheet): download it from the "
            "assignment's View all submissions > Download grading worksheet, and coursekit fills it in"
        )
    if to == "csv" and points is not None:
        raise ExportError("--points rescales for an LMS (canvas, moodle); the plain csv keeps course.yml's points")
    if points is not None and not points > 0:
        raise ExportError(f"--points {points:g}: an LMS assignment must be worth more than 0 points")
    if canvas_assignment_id is not None and not _DIGITS.match(canvas_assignment_id):
        raise ExportError(
            f"canvas assignment id {canvas_assignment_id!r} is not a number (it is the number in the "
            "assignment's URL, .../assignments/<id>)"
        )
    grades = read_grades_csv(out_dir=out_dir, course=course)
    for graded_row in grades:
        _check_late_penalty(graded_row, course=course, out_dir=out_dir)
    if to == "moodle":
        assert worksheet is not None
        return _export_moodle_worksheet(
            grades, course=course, dest=dest, roster=roster, missing=missing, points=points, worksheet=worksheet
        )
    graded, unmatched = _match_grades(grades, roster)
    students = roster.students if roster is not None else ()
    missing_ids = tuple(student.student_id for student in students if student.student_id not in graded)
    blank_or_zero = "0" if missing == "zero" else ""

    table: list[list[str]]
    unidentified: list[str] = []
    if to == "canvas":
        title = course.assignment.title
        column = f"{title} ({canvas_assignment_id})" if canvas_assignment_id else title
        possible = points if points is not None else course.assignment.points
        table = [
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
            ["Points Possible", "", "", "", "", format_points(possible)],
        ]
        for student in students:
            if not (student.canvas_user_id or student.sis_user_id or student.sis_login_id):
                unidentified.append(student.student_id)
            row = graded.get(student.student_id)
            score = lms_points(row.total, max_total=row.max_total, points=points) if row is not None else blank_or_zero
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
    else:
        part_ids = [part.id for part in course.assignment.parts]
        columns = ["student_id", "name", "email", "section", *part_ids, "total", "max_total", "late", "days_late"]
        table = [[*columns, "late_penalty"]]
        max_total = format_points(course.assignment.points)
        for student in students:
            row = graded.get(student.student_id)
            identity = [student.student_id, student.name, student.email, student.section]
            if row is None:
                table.append([*identity, *[blank_or_zero] * len(part_ids), blank_or_zero, max_total, "", "", ""])
            else:
                table.append([*identity, *_grade_cells(row, part_ids)])
        for row in sorted(unmatched, key=lambda row: row.student):
            table.append([row.student, "", "", "", *_grade_cells(row, part_ids)])
        rows_written = len(table) - 1

    _write_csv(dest, table)
    return ExportReport(
        to=to,
        dest=dest,
        rows=rows_written,
        missing=missing_ids,
        not_in_roster=tuple(sorted(row.student for row in unmatched)) if roster is not None else (),
        unidentified=tuple(unidentified),
        points=points,
    )


def _write_csv(dest: Path, table: list[list[str]]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream, lineterminator=CSV_LINE_TERMINATOR).writerows(neutralise_csv_row(row) for row in table)


def _check_late_penalty(row: GradeRow, *, course: Course, out_dir: Path) -> None:
    """grades.csv's total must be what course.yml's late policy gives now: one rule on every path."""
    scored = sum(score for score in row.part_scores.values() if score is not None)
    penalty = late_penalty(
        policy=course.late_policy, score=scored, points=course.assignment.points, late=row.late, days=row.days_late
    )
    deducted = penalty.deducted if penalty is not None else 0.0
    if abs(deducted - row.late_penalty) > 1e-3 or abs(scored - deducted - row.total) > 1e-3:
        raise ExportError(
            f"{out_dir / 'grades.csv'}: {row.student}'s total {format_points(row.total)} (late penalty "
            f"{format_points(row.late_penalty)}) is not what course.yml's late policy gives now ({format_points(scored)} "
            f"less {format_points(deducted)}); was the policy changed after grading? Regrade with coursekit grade --force"
        )


def _export_moodle_worksheet(
    grades: list[GradeRow],
    *,
    course: Course,
    dest: Path,
    roster: Roster | None,
    missing: MissingPolicy,
    points: float | None,
    worksheet: MoodleWorksheet,
) -> ExportReport:
    maximum = worksheet.maximum_grade()
    if maximum is None:
        raise ExportError(
            f"{worksheet.source}: no Maximum Grade column (the assignment is graded on a scale, or the worksheet is "
            "not Moodle's): set the assignment's grade type to Point"
        )
    if points is not None and abs(points - maximum) > 1e-9:
        raise ExportError(
            f"--points {points:g} is not the assignment's Maximum Grade {format_points(maximum)} in {worksheet.source}; "
            "Moodle skips every grade above its maximum"
        )
    by_name = {row.student: row for row in grades}
    by_student_id, _ = _match_grades(grades, roster)
    filled: dict[str, tuple[str, str]] = {}
    placed: set[str] = set()
    missing_ids: list[str] = []
    locked: list[str] = []
    warnings: list[str] = []
    if worksheet.index(FEEDBACK_COMMENTS) is None:
        warnings.append(
            f"{worksheet.source} has no Feedback comments column: only grades are filled in (enable the assignment's "
            "Feedback comments to upload feedback too)"
        )
    for sheet_row in worksheet.rows:
        participant = sheet_row.participant_id
        # Collected with a roster, a hand-in is named by student_id; without, by the participant id.
        student = roster.by_lms_id("moodle", participant) if roster is not None else None
        if student is not None:
            row = by_student_id.get(student.student_id)
        else:
            row = by_name.get(participant) or by_name.get(f"moodle-{participant}")
        if row is not None:
            placed.add(row.student)
        label = student.student_id if student is not None else f"Participant {participant}"
        if worksheet.cell(sheet_row, GRADE_CAN_BE_CHANGED).strip() == "No":
            locked.append(label)
            continue
        if row is not None:
            grade = lms_points(row.total, max_total=row.max_total, points=maximum)
            filled[participant] = (grade, _feedback_text(row, course, grade=grade, maximum=maximum))
        else:
            missing_ids.append(label)
            if missing == "zero":
                filled[participant] = ("0", "No hand-in received.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(fill_worksheet(worksheet, filled), encoding="utf-8", newline="")
    return ExportReport(
        to="moodle",
        dest=dest,
        rows=len(filled),
        missing=tuple(missing_ids),
        not_in_roster=tuple(sorted(row.student for row in grades if row.student not in placed)),
        unidentified=(),
        locked=tuple(locked),
        points=maximum,
        warnings=tuple(warnings),
    )


def _grade_cells(row: GradeRow, part_ids: list[str]) -> list[str]:
    parts = [_points_or_blank(row.part_scores[part_id]) for part_id in part_ids]
    late = ["1" if row.late else "0", str(row.days_late or ""), format_points(row.late_penalty)]
    return [*parts, format_points(row.total), format_points(row.max_total), *late]


def _points_or_blank(value: float | None) -> str:
    return "" if value is None else format_points(value)


def _feedback_text(row: GradeRow, course: Course, *, grade: str, maximum: float) -> str:
    """Per-part scores, the late penalty and the problems as one line of HTML-escaped text, the form Moodle shows
    in the feedback cell."""
    parts = []
    for part in course.assignment.parts:
        score = row.part_scores[part.id]
        shown = "not graded" if score is None else format_points(score)
        parts.append(f"{part.title} ({part.id}): {shown}/{format_points(part.points)}")
    text = "; ".join(parts) + f". Total {format_points(row.total)}/{format_points(row.max_total)}"
    text += f", {grade}/{format_points(maximum)} here." if abs(maximum - row.max_total) > 1e-9 else "."
    scored = sum(score for score in row.part_scores.values() if score is not None)
    penalty = late_penalty(
        policy=course.late_policy, score=scored, points=course.assignment.points, late=row.late, days=row.days_late
    )
    if penalty is not None:
        text += f" {penalty.line(with_points=True)}"
    if row.errors:
        text += f" Problems: {row.errors}"
    return html_text(text)
