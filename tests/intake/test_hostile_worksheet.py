"""Hostile Moodle grading worksheets: an instructor's file whose Full name and Email cells are the students' own
profile text (formulas, quotes, newlines), and files that are too big, wrongly encoded or carry odd byte-order
marks. The filled worksheet must be safe to open in a spreadsheet and still what Moodle's upload reads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from coursekit.escaping import CSV_FORMULA_STARTS
from coursekit.intake.worksheet import (
    FEEDBACK_COMMENTS,
    GRADE,
    IDENTIFIER,
    LAST_MODIFIED_GRADE,
    MAX_WORKSHEET_BYTES,
    WorksheetError,
    fill_worksheet,
    load_worksheet,
    parse_worksheet,
)

HEADER = (
    'Identifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",'
    '"Last modified (submission)","Last modified (grade)","Feedback comments"\n'
)
HOSTILE_NAMES = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",
    'Alice "the, quoted" Moreau\n=1+1',
    "-0.5",
]


def _sheet(names: list[str], *, feedback: str = "") -> str:
    out = io.StringIO()
    # Quoted as Moodle's fputcsv quotes: a cell holding a line break or a carriage return is enclosed.
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for number, name in enumerate(names, start=7301):
        writer.writerow(
            [f"Participant {number}", name, name, "Submitted for grading", "", "10.00", "Yes", "-", "-", feedback]
        )
    return "\ufeff" + HEADER + out.getvalue()


def test_student_formulas_are_neutralised_and_the_sheet_stays_importable() -> None:
    worksheet = parse_worksheet(_sheet(HOSTILE_NAMES))
    filled_ids = {row.participant_id: ("7.5", "Activations (1): 5/5.") for row in worksheet.rows}
    text = fill_worksheet(worksheet, filled_ids)
    again = parse_worksheet(text)
    assert [row.participant_id for row in again.rows] == [row.participant_id for row in worksheet.rows]
    for row in again.rows:
        assert again.cell(row, GRADE) == "7.5" and again.cell(row, LAST_MODIFIED_GRADE) == "-"
        assert again.cell(row, IDENTIFIER).startswith("Participant ")
        assert again.cell(row, FEEDBACK_COMMENTS) == "Activations (1): 5/5."
        for cell in row.cells:
            if cell not in ("-", "-0.5"):
                assert not cell.startswith(CSV_FORMULA_STARTS), cell
    names = [again.cell(row, "Full name") for row in again.rows]
    # A carriage return inside a cell is a line break in the filled sheet, never a bare CR that splits the row.
    assert "\r" not in text and names[6] == "\n=1+1"
    assert names[-1] == "-0.5"  # a plain number stays a number
    assert names[-3] == "''=1+1" and names[-2] == HOSTILE_NAMES[-2]  # quotes and newline kept in one cell


def test_an_instructors_earlier_comment_is_kept_as_written_for_rows_not_filled() -> None:
    worksheet = parse_worksheet(_sheet(["Bob"], feedback="-2 for the late start"))
    text = fill_worksheet(worksheet, {})
    kept = parse_worksheet(text)
    # Moodle's upload saves a feedback comment that differs from its own, so an apostrophe here would be written
    # into the student's feedback; the comment is the course staff's own text, not a student's.
    assert kept.cell(kept.rows[0], FEEDBACK_COMMENTS) == "-2 for the late start"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_sheet(["a"]).encode("utf-16"), "not UTF-8"),
        (_sheet(["Zoë"]).encode("latin-1", errors="replace")[3:], "not UTF-8"),
        (("\ufeff" + _sheet(["a"])).encode("utf-8"), "not Moodle's offline grading worksheet"),
        ((_sheet(["a"]) + "x" * (MAX_WORKSHEET_BYTES + 1)).encode(), "larger than"),
        (_sheet(["x" * 200_000]).encode(), "not valid CSV"),
        (_sheet(["a"]).replace("\n", "\r").encode(), None),
        (HEADER.encode() + b'"Participant 1","unclosed\n', "fields"),
    ],
)
def test_a_broken_worksheet_is_refused_with_a_message(tmp_path: Path, data: bytes, message: str | None) -> None:
    path = tmp_path / "worksheet.csv"
    path.write_bytes(data)
    if message is None:
        assert [row.participant_id for row in load_worksheet(path).rows] == ["7301"]
        return
    with pytest.raises(WorksheetError, match=message):
        load_worksheet(path)
