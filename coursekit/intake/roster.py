"""The class roster: who the students are and how each LMS names them.

A roster is a UTF-8 CSV (a byte-order mark from Excel is fine) with a header row and these columns::

    student_id,name,email,canvas_user_id,sis_user_id,sis_login_id,moodle_id,section

Only ``student_id`` and ``name`` are required columns; a Moodle-only course may leave out the Canvas columns and
the other way round. ``student_id`` is the kit's own id: it names the hand-in entry that ``collect_download`` writes
and the row in grades.csv, so it must be usable as a file name (letters, digits, ``.``, ``_``, ``-``).
``canvas_user_id`` is the number in Canvas's bulk-download file names and gradebook ``ID`` column; ``moodle_id`` is
the participant id in Moodle's bulk-download names (Moodle's per-assignment participant id, not the user id).

A bad roster raises `RosterError` listing every problem with its line, e.g.
``roster.csv, line 7: missing student_id``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coursekit.errors import CoursekitError

ROSTER_COLUMNS = (
    "student_id",
    "name",
    "email",
    "canvas_user_id",
    "sis_user_id",
    "sis_login_id",
    "moodle_id",
    "section",
)
REQUIRED_COLUMNS = ("student_id", "name")

# A student id becomes a folder name: nothing that could climb out of a folder or hide as a dot-file.
STUDENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LMS_NUMBER_PATTERN = re.compile(r"^[0-9]{1,20}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")

LmsName = Literal["canvas", "moodle"]


class RosterError(CoursekitError, ValueError):
    """The roster file is missing, unreadable, or has bad rows; the message names each line."""


@dataclass(frozen=True)
class RosterStudent:
    """One roster row; optional fields are empty strings when the roster leaves them out."""

    student_id: str
    name: str
    email: str = ""
    canvas_user_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    moodle_id: str = ""
    section: str = ""
    line: int = 0


@dataclass(frozen=True)
class Roster:
    """The students of one class, in the roster's order, with look-ups by every id they carry."""

    students: tuple[RosterStudent, ...]
    source: str = "roster"

    def by_student_id(self, student_id: str) -> RosterStudent | None:
        """The student whose kit id is `student_id`, if any."""
        for student in self.students:
            if student.student_id == student_id:
                return student
        return None

    def by_lms_id(self, lms: LmsName, lms_id: str) -> RosterStudent | None:
        """The student that `lms` knows as `lms_id` (Canvas user id, or Moodle participant id), if any."""
        if not lms_id:
            return None
        for student in self.students:
            if (student.canvas_user_id if lms == "canvas" else student.moodle_id) == lms_id:
                return student
        return None

    def find(self, handin_id: str) -> RosterStudent | None:
        """The student a hand-in id names: a kit student id first, else a Canvas user id, else a Moodle id.

        A hand-in collected without a roster is named by its LMS id; this links it back.
        """
        return (
            self.by_student_id(handin_id) or self.by_lms_id("canvas", handin_id) or self.by_lms_id("moodle", handin_id)
        )


def parse_roster(text: str, *, source: str = "roster.csv") -> Roster:
    """Validate a roster CSV's text; every problem is reported with `source` and its line."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None:
        raise RosterError(f"{source}: empty file, expected a header row: {','.join(ROSTER_COLUMNS)}")
    header = [column.strip() for column in header]
    problems: list[str] = []
    unknown = [column for column in header if column not in ROSTER_COLUMNS]
    if unknown:
        # A typo such as "emial" would otherwise drop a column without a word.
        problems.append(
            f"{source}, line 1: unknown column(s) {', '.join(unknown)}; expected {', '.join(ROSTER_COLUMNS)}"
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        problems.append(f"{source}, line 1: missing column(s) {', '.join(missing)}")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        problems.append(f"{source}, line 1: repeated column(s) {', '.join(repeated)}")
    if problems:
        raise RosterError("\n".join(problems))

    students: list[RosterStudent] = []
    first_line_of: dict[tuple[str, str], int] = {}
    try:
        for fields in rows:
            line = rows.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                problems.append(f"{source}, line {line}: {len(fields)} fields, the header has {len(header)}")
                continue
            values = {column: field.strip() for column, field in zip(header, fields, strict=True)}
            row_problems = _row_problems(values)
            for key in ("student_id", "canvas_user_id", "moodle_id", "email", "sis_user_id"):
                value = values.get(key, "")
                if not value:
                    continue
                # Entries named "Alice" and "alice" collide on macOS and Windows; emails ignore case.
                folded = value.casefold() if key in ("student_id", "email") else value
                seen = first_line_of.setdefault((key, folded), line)
                if seen != line:
                    row_problems.append(f"{key} {value!r} already on line {seen}")
            if row_problems:
                problems.extend(f"{source}, line {line}: {problem}" for problem in row_problems)
                continue
            students.append(RosterStudent(**values, line=line))
    except csv.Error as error:
        problems.append(f"{source}, line {rows.line_num}: not valid CSV: {error}")
    if problems:
        raise RosterError("\n".join(problems))
    if not students:
        raise RosterError(f"{source}: no students, only a header")
    return Roster(students=tuple(students), source=source)


def _row_problems(values: dict[str, str]) -> list[str]:
    problems = []
    student_id = values.get("student_id", "")
    if not student_id:
        problems.append("missing student_id")
    elif not STUDENT_ID_PATTERN.match(student_id):
        problems.append(
            f"student_id {student_id!r} must be letters, digits, '.', '_' or '-' (it names a folder), "
            "starting with a letter or digit"
        )
    if not values.get("name", ""):
        problems.append("missing name")
    for key in ("canvas_user_id", "moodle_id"):
        value = values.get(key, "")
        if value and not LMS_NUMBER_PATTERN.match(value):
            problems.append(f"{key} {value!r} is not a number")
    email = values.get("email", "")
    if email and not EMAIL_PATTERN.match(email):
        problems.append(f"email {email!r} is not an email address")
    return problems


def load_roster(path: Path) -> Roster:
    """Read and validate a roster CSV (see the module docstring for its columns)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RosterError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise RosterError(f"{path}: not UTF-8 text (byte {error.start}); save the roster as CSV UTF-8") from None
    return parse_roster(text, source=str(path))
