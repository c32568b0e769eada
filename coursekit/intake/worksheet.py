"""Moodle's offline grading worksheet, read and written here.

The assignment's "Download grading worksheet" (feedback plugin ``assignfeedback_offline``, the table of
``mod/assign/gradingtable.php``) is a CSV with a row per participant. Its columns, in Moodle's English strings:
``Identifier`` ("Participant N": the per-assignment participant id, the N of the bulk download's names), ``Full
name`` and the identity fields the site shows (``Email address``, ...), ``Status``, ``Grade``, ``Maximum Grade``
(``Scale`` for a scale), ``Grade can be changed``, ``Last modified (submission)``, one column per submission
plugin, ``Last modified (grade)`` and one per feedback field (``Feedback comments``). Which columns appear depends on
the assignment's settings; only Identifier, Status, Grade and Last modified (grade) are required here.

Moodle's "Upload grading worksheet" finds the columns by those header names and the row's participant by
Identifier, then, per row, skips a grade that is empty, unchanged, negative or above the assignment's maximum, a
row whose grade is locked, and a row whose grade changed in Moodle more than a minute after its Last modified
(grade) (unless "Allow updating records that have been modified more recently in Moodle than in the spreadsheet" is
ticked); feedback is written unless the row is stale. So `fill_worksheet` keeps every cell Moodle wrote, Last
modified (grade) included, and fills only Grade and Feedback comments.

The Status column says how late a hand-in is: "Submitted for grading - 2 days 3 hours late - Graded" (Moodle's
``format_time``: the two largest units, truncated, measured from the student's own due date, extensions included).
`lateness` reads the least time that text allows, and counts whole days begun (coursekit.grade.late).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from coursekit.errors import CoursekitError
from coursekit.escaping import neutralise_csv_row
from coursekit.grade.late import days_late
from coursekit.intake.collect import ON_TIME, Lateness

IDENTIFIER = "Identifier"
STATUS = "Status"
GRADE = "Grade"
MAXIMUM_GRADE = "Maximum Grade"
GRADE_CAN_BE_CHANGED = "Grade can be changed"
LAST_MODIFIED_GRADE = "Last modified (grade)"
FEEDBACK_COMMENTS = "Feedback comments"
REQUIRED_COLUMNS = (IDENTIFIER, STATUS, GRADE, LAST_MODIFIED_GRADE)

# A worksheet holds a line per participant: a few hundred bytes each; a class of thousands fits with room to spare.
MAX_WORKSHEET_BYTES = 16 * 1024 * 1024
# Moodle's own line ends when it writes the worksheet (PHP's fputcsv).
WORKSHEET_LINE_TERMINATOR = "\n"

_PARTICIPANT = re.compile(r"^Participant ([0-9]{1,20})$")
# Moodle's format_time units, with YEARSECS = 365 days.
_UNIT_SECONDS = {"year": 365 * 86400, "day": 86400, "hour": 3600, "min": 60, "sec": 1}
_LATE_PIECE = re.compile(r"^((?:[0-9]+ (?:year|day|hour|min|sec)s? ?){1,2}) late$")
_AMOUNT = re.compile(r"([0-9]+) (year|day|hour|min|sec)s?")


class WorksheetError(CoursekitError, ValueError):
    """The file is not Moodle's offline grading worksheet (in English), or has rows it cannot be; the message
    names the file and line."""


@dataclass(frozen=True)
class WorksheetRow:
    """One participant's row, its cells as Moodle wrote them."""

    line: int
    participant_id: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class MoodleWorksheet:
    """An offline grading worksheet as downloaded: its header, its rows, and whether it began with a BOM."""

    source: str
    header: tuple[str, ...]
    rows: tuple[WorksheetRow, ...]
    byte_order_mark: bool = False

    def index(self, column: str) -> int | None:
        return self.header.index(column) if column in self.header else None

    def cell(self, row: WorksheetRow, column: str) -> str:
        index = self.index(column)
        return row.cells[index] if index is not None else ""

    def by_participant(self, participant_id: str) -> WorksheetRow | None:
        for row in self.rows:
            if row.participant_id == participant_id:
                return row
        return None

    def maximum_grade(self) -> float | None:
        """The assignment's maximum grade (the Maximum Grade column, the same on every row); None for a scale or
        a worksheet without the column."""
        index = self.index(MAXIMUM_GRADE)
        if index is None or not self.rows:
            return None
        values = {row.cells[index].strip() for row in self.rows}
        if len(values) != 1:
            raise WorksheetError(f"{self.source}: the Maximum Grade column holds several values: {sorted(values)}")
        (text,) = values
        try:
            # Moodle's format_float writes the site's decimal separator: "100.00" or "100,00".
            return float(text.replace(",", "."))
        except ValueError:
            raise WorksheetError(f"{self.source}: Maximum Grade {text!r} is not a number") from None

    def lateness(self, participant_id: str) -> Lateness:
        """How late the participant's submission is, read from the Status column; on time when it says nothing."""
        row = self.by_participant(participant_id)
        return ON_TIME if row is None else status_lateness(self.cell(row, STATUS))


def status_lateness(status: str) -> Lateness:
    """The lateness a Status cell states: "Submitted for grading - 1 day 2 hours late - Graded" is 26 hours late at
    least, 2 days begun. No "... late" piece: on time (or no submission)."""
    for piece in status.split(" - "):
        match = _LATE_PIECE.match(piece.strip())
        if match is None:
            continue
        seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _AMOUNT.findall(match[1]))
        # Moodle marks a submission late from one second past the due date; format_time never shows 0.
        return Lateness(late=True, days_late=max(1, days_late(seconds)))
    return ON_TIME


def parse_worksheet(text: str, *, source: str = "worksheet.csv") -> MoodleWorksheet:
    """Validate a worksheet's text; every problem names `source` and its line."""
    bom = text.startswith("\ufeff")
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = tuple(next(rows, []))
    except csv.Error as error:
        raise WorksheetError(f"{source}, line 1: not valid CSV: {error}") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise WorksheetError(
            f"{source}, line 1: not Moodle's offline grading worksheet: no column(s) {', '.join(missing)}. Download it "
            "from the assignment (View all submissions > Download grading worksheet) with Moodle's language set to "
            "English; the upload finds its columns by these names"
        )
    repeated = sorted({column for column in header if header.count(column) > 1 and column in REQUIRED_COLUMNS})
    if repeated:
        raise WorksheetError(f"{source}, line 1: repeated column(s) {', '.join(repeated)}")
    identifier = header.index(IDENTIFIER)
    problems: list[str] = []
    found: list[WorksheetRow] = []
    seen: dict[str, int] = {}
    try:
        for fields in rows:
            line = rows.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                problems.append(f"{source}, line {line}: {len(fields)} fields, the header has {len(header)}")
                continue
            match = _PARTICIPANT.match(fields[identifier].strip())
            if match is None:
                problems.append(f"{source}, line {line}: Identifier {fields[identifier]!r} is not 'Participant <n>'")
                continue
            participant = match[1]
            if participant in seen:
                problems.append(f"{source}, line {line}: Participant {participant} already on line {seen[participant]}")
                continue
            seen[participant] = line
            found.append(WorksheetRow(line=line, participant_id=participant, cells=tuple(fields)))
    except csv.Error as error:
        problems.append(f"{source}, line {rows.line_num}: not valid CSV: {error}")
    if problems:
        raise WorksheetError("\n".join(problems))
    return MoodleWorksheet(source=source, header=header, rows=tuple(found), byte_order_mark=bom)


def load_worksheet(path: Path) -> MoodleWorksheet:
    """Read and validate a worksheet file as Moodle downloads it (UTF-8, with or without a byte-order mark)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_WORKSHEET_BYTES + 1)
    except OSError as error:
        raise WorksheetError(f"{path}: cannot read: {error.strerror}") from None
    if len(data) > MAX_WORKSHEET_BYTES:
        raise WorksheetError(f"{path}: larger than {MAX_WORKSHEET_BYTES} bytes; not a grading worksheet")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WorksheetError(f"{path}: not UTF-8 text (byte {error.start}); download the worksheet again") from None
    return parse_worksheet(text, source=str(path))


def fill_worksheet(worksheet: MoodleWorksheet, filled: dict[str, tuple[str, str]]) -> str:
    """The worksheet's text with Grade and Feedback comments replaced for each participant in `filled`
    (participant id -> (grade, feedback)); every other cell, and every other row, as downloaded.

    Every cell is neutralised against spreadsheet formulas (names and emails are the students' text); Moodle's upload
    reads only Identifier, Grade, Last modified (grade) and the feedback columns, none of which starts as a formula
    (Last modified (grade) may be ``-``, kept as it is; so is the Feedback comments cell of a row not filled in, the
    course staff's own text). Carriage returns inside cells become line feeds, which the writer quotes.
    """
    grade, feedback = worksheet.index(GRADE), worksheet.index(FEEDBACK_COMMENTS)
    modified = worksheet.index(LAST_MODIFIED_GRADE)
    out = io.StringIO()
    if worksheet.byte_order_mark:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator=WORKSHEET_LINE_TERMINATOR)
    writer.writerow(neutralise_csv_row(worksheet.header))
    for row in worksheet.rows:
        cells = list(row.cells)
        if row.participant_id in filled:
            new_grade, new_feedback = filled[row.participant_id]
            assert grade is not None
            cells[grade] = new_grade
            if feedback is not None:
                cells[feedback] = new_feedback
        # Python's csv quotes a cell holding "\n" (the line end) but not a bare "\r", which every reader takes for a
        # line break; Moodle's reader turns line ends into "\n" anyway.
        cells = [cell.replace("\r\n", "\n").replace("\r", "\n") for cell in cells]
        written = neutralise_csv_row(cells)
        if modified is not None and cells[modified] == "-":
            # Moodle's "never graded": a lone minus, which no spreadsheet runs, kept as the upload expects it.
            written[modified] = "-"
        if feedback is not None and row.participant_id not in filled:
            # The course staff's own comment, as Moodle wrote it: the upload saves a comment that differs from
            # Moodle's, so a leading ' would be written into the student's feedback.
            written[feedback] = cells[feedback]
        writer.writerow(written)
    return out.getvalue()
