"""The LMS round trip's way back: the roster, and the grade exports (coursekit.export.lms).

The exports are compared byte for byte with golden files in tests/golden/lms/; after a deliberate format change,
regenerate them with ``COURSEKIT_UPDATE_GOLDEN=1 pytest tests/export/test_lms.py`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from lms_files import MOODLE_WORKSHEET_CSV, ROSTER_CSV
from repo_paths import GOLDEN as GOLDEN_FILES
from repo_paths import REPO

from coursekit.config import Course, LatePolicy, load_course
from coursekit.export import ExportTarget
from coursekit.export.lms import ExportError, export_grades, format_points, lms_points
from coursekit.grade.plugin import Verdict
from coursekit.grade.results import GradesCsvError, StudentResult, grades_csv, read_grades_csv
from coursekit.intake.roster import Roster, RosterError, load_roster, parse_roster
from coursekit.intake.worksheet import MoodleWorksheet, WorksheetError, parse_worksheet, status_lateness

GOLDEN = GOLDEN_FILES / "lms"
UPDATE_GOLDEN = os.environ.get("COURSEKIT_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(REPO / "course.yml")


@pytest.fixture
def roster() -> Roster:
    return parse_roster(ROSTER_CSV, source="roster.csv")


@pytest.fixture
def worksheet() -> MoodleWorksheet:
    return parse_worksheet(MOODLE_WORKSHEET_CSV, source="worksheet.csv")


# ---------------------------------------------------------------------------------------------------------------
# The roster


def test_roster_errors_name_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        "student_id,name,email,canvas_user_id,moodle_id\n"
        "alice,Alice Moreau,alice@example.edu,50101,7301\n"
        ",Nobody,nobody@example.edu,50102,7302\n"
        "bob,,bob@example.edu,50103,7303\n"
        "../carol,Carol,carol@example.edu,50104,7304\n"
        "dave,Dave,not-an-email,5010x,7305\n"
        "Alice,Alice Again,alice2@example.edu,50101,7306\n"
        "erin,Erin\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError) as raised:
        load_roster(path)
    message = str(raised.value)
    assert f"{path}, line 3: missing student_id" in message
    assert f"{path}, line 4: missing name" in message
    assert f"{path}, line 5: student_id '../carol' must be" in message
    assert f"{path}, line 6: canvas_user_id '5010x' is not a number" in message
    assert f"{path}, line 6: email 'not-an-email' is not an email address" in message
    assert f"{path}, line 7: student_id 'Alice' already on line 2" in message
    assert f"{path}, line 7: canvas_user_id '50101' already on line 2" in message
    assert f"{path}, line 8: 2 fields, the header has 5" in message


def test_roster_header_problems(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match=r"roster.csv, line 1: unknown column\(s\) emial"):
        parse_roster("student_id,name,emial\nalice,Alice,a@example.edu\n", source="roster.csv")
    with pytest.raises(RosterError, match=r"line 1: missing column\(s\) name"):
        parse_roster("student_id,email\nalice,a@example.edu\n", source="roster.csv")
    with pytest.raises(RosterError, match="no students"):
        parse_roster("student_id,name\n", source="roster.csv")
    with pytest.raises(RosterError, match="cannot read"):
        load_roster(tmp_path / "absent.csv")


def test_roster_reads_excel_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("\ufeffstudent_id,name\r\nheidi,Heidi Schäfer\r\n".encode())
    roster = load_roster(path)
    assert [(student.student_id, student.name) for student in roster.students] == [("heidi", "Heidi Schäfer")]


def test_sample_roster_covers_the_sample_class() -> None:
    roster = load_roster(REPO / "examples" / "roster.csv")
    handin_ids = [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "grace",
        "heidi",
        "ivan",
        "judy",
        "mallory",
        "niaj",
        "olivia",
        "peggy",
        "rupert",
        "sybil",
        "trent",
        "victor",
        "walter",
    ]
    assert [student.student_id for student in roster.students] == [*handin_ids, "zoe"]
    assert all(student.canvas_user_id and student.moodle_id and student.email for student in roster.students)


def test_roster_links_handins_by_any_id(roster: Roster) -> None:
    for handin_id in ("carol", "50103", "7303"):
        student = roster.find(handin_id)
        assert student is not None and student.student_id == "carol"
    assert roster.find("nobody") is None


# ---------------------------------------------------------------------------------------------------------------
# Exporting grades

GRADES_CSV = """\
student,activations,model,training,total,max_total,late,days_late,late_penalty,errors
alice,30,30,40,100,100,0,,0,
bob,30,12.5,0,42.5,100,1,2,0,training: the validation loss never went down
carol,15,30,40,85,100,0,,0,
50104,20,20,20.333,60.333,100,1,1,0,
mallory,0,0,0,0,100,0,,0,"no activations.py, model.py or training.py"
"""


def make_out(tmp_path: Path) -> Path:
    """A small, fixed OUT folder as `coursekit grade` writes it."""
    out_dir = tmp_path / "out"
    (out_dir / "results").mkdir(parents=True)
    (out_dir / "grades.csv").write_text(GRADES_CSV, encoding="utf-8")
    for student in ("alice", "bob", "carol", "50104", "mallory"):
        results = {"score": 0, "execution_time": 1.0, "output": "", "tests": []}
        (out_dir / "results" / f"{student}.json").write_text(json.dumps(results), encoding="utf-8")
    return out_dir


def check_golden(written: Path, golden_name: str) -> None:
    golden = GOLDEN / golden_name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written.read_bytes())
    assert written.read_bytes() == golden.read_bytes(), f"{golden_name} changed; see the module docstring"


def test_export_canvas_matches_golden(tmp_path: Path, course: Course, roster: Roster) -> None:
    dest = tmp_path / "canvas.csv"
    report = export_grades(
        out_dir=make_out(tmp_path), to="canvas", course=course, dest=dest, roster=roster, canvas_assignment_id="4242"
    )
    check_golden(dest, "canvas.csv")
    assert report.rows == 6
    assert report.missing == ("erin", "zoe")
    assert report.not_in_roster == ("mallory",)
    assert report.unidentified == ("erin",)


def test_export_canvas_passes_canvas_importer_checks(tmp_path: Path, course: Course, roster: Roster) -> None:
    """The checks of Canvas's lib/gradebook_importer.rb on a header and its Points Possible row."""
    dest = tmp_path / "canvas.csv"
    export_grades(out_dir=make_out(tmp_path), to="canvas", course=course, dest=dest, roster=roster)
    rows = list(csv.reader(io.StringIO(dest.read_text(encoding="utf-8"), newline="")))
    header, points_possible, *students = rows
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    assert header[2:5] == ["SIS User ID", "SIS Login ID", "Section"]
    assert header[5] == course.assignment.title
    assert "Points Possible" in points_possible[0] and points_possible[5] == "100"
    assert {row[1]: row[5] for row in students}["50104"] == "60.33"


def test_export_canvas_blank_for_missing_and_new_assignment(tmp_path: Path, course: Course, roster: Roster) -> None:
    dest = tmp_path / "canvas.csv"
    export_grades(out_dir=make_out(tmp_path), to="canvas", course=course, dest=dest, roster=roster, missing="blank")
    check_golden(dest, "canvas_blank_new_assignment.csv")


def test_export_canvas_rescaled_matches_golden(tmp_path: Path, course: Course, roster: Roster) -> None:
    dest = tmp_path / "canvas.csv"
    report = export_grades(
        out_dir=make_out(tmp_path),
        to="canvas",
        course=course,
        dest=dest,
        roster=roster,
        canvas_assignment_id="4242",
        points=7.5,
    )
    check_golden(dest, "canvas_rescaled.csv")
    rows = list(csv.reader(io.StringIO(dest.read_text(encoding="utf-8"), newline="")))
    # Points Possible, then 100, 42.5, 85, 60.333 of 100 at 7.5 points, rounded half up: 3.1875 -> 3.19.
    assert [row[5] for row in rows[1:6]] == ["7.5", "7.5", "3.19", "6.38", "4.52"]
    assert report.points == 7.5


def test_export_moodle_worksheet_matches_golden(
    tmp_path: Path, course: Course, roster: Roster, worksheet: MoodleWorksheet
) -> None:
    dest = tmp_path / "worksheet.csv"
    report = export_grades(
        out_dir=make_out(tmp_path), to="moodle", course=course, dest=dest, roster=roster, worksheet=worksheet
    )
    check_golden(dest, "moodle_worksheet.csv")
    assert report.points == 10 and report.locked == ("zoe",)
    assert report.missing == ("erin", "Participant 7399") and report.not_in_roster == ("mallory",)
    filled = parse_worksheet(dest.read_text(encoding="utf-8"), source="filled.csv")
    assert filled.header == worksheet.header and dest.read_bytes().startswith("\ufeff".encode())
    grades = {
        row.participant_id: (filled.cell(row, "Grade"), filled.cell(row, "Feedback comments")) for row in filled.rows
    }
    assert grades["7301"][0] == "10" and grades["7303"][0] == "8.5" and grades["7304"][0] == "6.03"
    assert grades["7302"] == (
        "4.25",
        "Activation functions (activations): 30/30; A custom nn.Module (model): 12.5/30; Training with a validation "
        "split (training): 0/40. Total 42.5/100, 4.25/10 here. Handed in 2 days late; no late penalty applies. "
        "Problems: training: the validation loss never went down",
    )
    assert grades["7305"] == ("0", "No hand-in received.")
    # Moodle's own cells stay as downloaded: its upload skips a row whose grade changed after Last modified (grade).
    for before, after in zip(worksheet.rows, filled.rows, strict=True):
        for column in ("Identifier", "Status", "Maximum Grade", "Grade can be changed", "Last modified (grade)"):
            assert filled.cell(after, column) == worksheet.cell(before, column)
    zoe = filled.by_participant("7320")
    assert zoe is not None and (filled.cell(zoe, "Grade"), filled.cell(zoe, "Feedback comments")) == ("9.50", "Done.")
    hostile = next(line for line in dest.read_text(encoding="utf-8").splitlines() if "7399" in line)
    assert '"\'=HYPERLINK(""http://evil.example"",""x"")"' in hostile and ",'@SUM(1)," in hostile


def test_export_moodle_worksheet_without_a_roster_matches_participant_ids(
    tmp_path: Path, course: Course, worksheet: MoodleWorksheet
) -> None:
    out_dir = make_out(tmp_path)
    text = GRADES_CSV.replace("alice,", "7301,").replace("carol,", "moodle-7303,")
    (out_dir / "grades.csv").write_text(text, encoding="utf-8")
    dest = tmp_path / "worksheet.csv"
    report = export_grades(out_dir=out_dir, to="moodle", course=course, dest=dest, worksheet=worksheet, missing="blank")
    filled = parse_worksheet(dest.read_text(encoding="utf-8"))
    grades = {row.participant_id: filled.cell(row, "Grade") for row in filled.rows}
    # Blank: rows with no hand-in are left as they were (Moodle skips an empty grade).
    assert grades == {"7301": "10", "7302": "", "7303": "8.5", "7304": "", "7305": "", "7320": "9.50", "7399": ""}
    assert report.not_in_roster == ("50104", "bob", "mallory") and report.rows == 2


def test_export_moodle_needs_the_worksheet_and_its_points(
    tmp_path: Path, course: Course, roster: Roster, worksheet: MoodleWorksheet
) -> None:
    out_dir = make_out(tmp_path)
    with pytest.raises(ExportError, match="needs the assignment's grading worksheet"):
        export_grades(out_dir=out_dir, to="moodle", course=course, dest=tmp_path / "x.csv", roster=roster)
    with pytest.raises(ExportError, match="--points 100 is not the assignment's Maximum Grade 10"):
        export_grades(
            out_dir=out_dir, to="moodle", course=course, dest=tmp_path / "x.csv", worksheet=worksheet, points=100
        )
    scale = parse_worksheet(MOODLE_WORKSHEET_CSV.replace('"Maximum Grade"', "Scale"))
    with pytest.raises(ExportError, match="graded on a scale"):
        export_grades(out_dir=out_dir, to="moodle", course=course, dest=tmp_path / "x.csv", worksheet=scale)
    with pytest.raises(ExportError, match=r"plain csv keeps course\.yml's points"):
        export_grades(out_dir=out_dir, to="csv", course=course, dest=tmp_path / "x.csv", points=10)
    with pytest.raises(ExportError, match="worth more than 0 points"):
        export_grades(out_dir=out_dir, to="canvas", course=course, dest=tmp_path / "x.csv", roster=roster, points=0)


def test_export_plain_csv_matches_golden(tmp_path: Path, course: Course, roster: Roster) -> None:
    dest = tmp_path / "grades_export.csv"
    report = export_grades(out_dir=make_out(tmp_path), to="csv", course=course, dest=dest, roster=roster)
    check_golden(dest, "plain.csv")
    assert report.rows == 7


def test_export_plain_csv_without_roster_matches_golden(tmp_path: Path, course: Course) -> None:
    dest = tmp_path / "grades_export.csv"
    report = export_grades(out_dir=make_out(tmp_path), to="csv", course=course, dest=dest, missing="blank")
    check_golden(dest, "plain_no_roster.csv")
    assert report.rows == 5
    assert report.not_in_roster == ()


def test_export_needs_a_roster_for_canvas(tmp_path: Path, course: Course) -> None:
    targets: tuple[ExportTarget, ...] = ("canvas",)
    for to in targets:
        with pytest.raises(ExportError, match="needs a roster"):
            export_grades(out_dir=make_out(tmp_path / to), to=to, course=course, dest=tmp_path / "x.csv")


def test_export_rejects_grades_from_another_course(tmp_path: Path, course: Course, roster: Roster) -> None:
    out_dir = make_out(tmp_path)
    (out_dir / "grades.csv").write_text("student,part_a,total,max_total,late,days_late,late_penalty,errors\n")
    with pytest.raises(GradesCsvError, match=r"grades.csv, line 1: columns .* do not match course.yml"):
        export_grades(out_dir=out_dir, to="csv", course=course, dest=tmp_path / "x.csv", roster=roster)
    (out_dir / "grades.csv").write_text(GRADES_CSV.replace("42.5,100,1", "42.5,100,yes"), encoding="utf-8")
    with pytest.raises(GradesCsvError, match=r"grades\.csv, line 3: late must be 0 or 1"):
        export_grades(out_dir=out_dir, to="csv", course=course, dest=tmp_path / "x.csv", roster=roster)


def test_export_rejects_a_bad_canvas_assignment_id(tmp_path: Path, course: Course, roster: Roster) -> None:
    with pytest.raises(ExportError, match="not a number"):
        export_grades(
            out_dir=make_out(tmp_path),
            to="canvas",
            course=course,
            dest=tmp_path / "x.csv",
            roster=roster,
            canvas_assignment_id="courses/7/assignments/4242",
        )


@pytest.mark.parametrize(("value", "text"), [(30.0, "30"), (12.5, "12.5"), (60.333, "60.33"), (0.0, "0"), (-0.0, "0")])
def test_points_are_formatted_like_the_gradebooks(value: float, text: str) -> None:
    assert format_points(value) == text


def test_exports_keep_formulas_as_text_and_moodle_feedback_as_text(tmp_path: Path, course: Course) -> None:
    out_dir = make_out(tmp_path)
    handins = [
        StudentResult(student_id="alice", verdicts=(), problems=("=1+1 <img src=x onerror=alert(1)>",)),
        StudentResult(student_id='=HYPERLINK("evil.example","A+")', verdicts=()),
    ]
    (out_dir / "grades.csv").write_text(grades_csv(handins, course=course), encoding="utf-8")
    rows = {row.student: row for row in read_grades_csv(out_dir=out_dir, course=course)}
    assert set(rows) == {"alice", '=HYPERLINK("evil.example","A+")'}
    assert rows["alice"].errors == "=1+1 <img src=x onerror=alert(1)>"
    roster = parse_roster(
        "student_id,name,email,canvas_user_id,section\n"
        'alice,"=HYPERLINK(""evil.example"",""Alice"")",alice@example.edu,50101,@SUM(1)\n',
        source="roster.csv",
    )

    def cells(to: str, **options: object) -> list[list[str]]:
        dest = tmp_path / f"{to}.csv"
        export_grades(out_dir=out_dir, to=to, course=course, dest=dest, **options)  # type: ignore[arg-type]
        return list(csv.reader(io.StringIO(dest.read_text(encoding="utf-8"), newline="")))

    canvas = cells("canvas", roster=roster)
    assert canvas[2][0] == '\'=HYPERLINK("evil.example","Alice")' and canvas[2][4] == "'@SUM(1)"
    assert canvas[2][5] == "0" and canvas[1][5] == "100"
    sheet = parse_worksheet(
        'Identifier,Status,Grade,"Maximum Grade","Last modified (grade)","Feedback comments"\n'
        '"Participant 7301","Submitted for grading",,100.00,-,\n',
        source="worksheet.csv",
    )
    moodle = cells("moodle", roster=parse_roster("student_id,name,moodle_id\nalice,Alice,7301\n"), worksheet=sheet)
    assert moodle[1][5].endswith("Problems: =1+1 &lt;img src=x onerror=alert(1)&gt;")
    plain = cells("csv")
    assert [row[0] for row in plain[1:]] == ['\'=HYPERLINK("evil.example","A+")', "alice"]
    assert plain[1][4:] == ["0", "0", "0", "0", "100", "0", "", "0"]


# ---------------------------------------------------------------------------------------------------------------
# Rescaling, Moodle's worksheet, the late policy


@pytest.mark.parametrize(
    ("total", "points", "text"),
    [(100, None, "100"), (60.333, None, "60.33"), (85, 7.5, "6.38"), (42.5, 7.5, "3.19"), (99.99, 7.125, "7.12")],
)
def test_rescaling_rounds_half_up_to_two_decimals(total: float, points: float | None, text: str) -> None:
    assert lms_points(total, max_total=100, points=points) == text


def test_a_rescaled_grade_is_never_above_the_lms_maximum() -> None:
    for points in (1, 2.5, 7.125, 7.5, 10, 12.34, 33.333, 150):
        for hundredths in range(0, 10001, 7):
            grade = float(lms_points(hundredths / 100, max_total=100, points=points))
            assert 0 <= grade <= points
        assert float(lms_points(100, max_total=100, points=points)) >= points - 0.005


@pytest.mark.parametrize(
    ("status", "late", "days"),
    [
        ("Submitted for grading", False, None),
        ("Submitted for grading - Graded", False, None),
        ("No submission - Assignment is overdue by: 3 days 4 hours", False, None),
        ("Submitted for grading - 5 mins 3 secs late", True, 1),
        ("Submitted for grading - 1 sec late - Graded", True, 1),
        ("Submitted for grading - 23 hours 59 mins late", True, 1),
        # "1 day" is 24 hours to 24 hours 59 minutes: the least it can be, 1 day.
        ("Submitted for grading - 1 day late", True, 1),
        ("Submitted for grading - 1 day 2 hours late - Graded", True, 2),
        ("Draft (not submitted) - 6 days 23 hours late", True, 7),
        ("Submitted for grading - 1 year 3 days late", True, 368),
        (
            "Submitted for grading - 2 days 1 hour late - Extension granted until: Friday, 4 December 2026, 11:59 PM",
            True,
            3,
        ),
    ],
)
def test_worksheet_status_gives_days_late(status: str, late: bool, days: int | None) -> None:
    lateness = status_lateness(status)
    assert (lateness.late, lateness.days_late) == (late, days)


def test_a_file_that_is_not_the_worksheet_is_an_error() -> None:
    with pytest.raises(WorksheetError, match=r"line 1: not Moodle's offline grading worksheet: no column\(s\) Status"):
        parse_worksheet("Identifier,Grade,Last modified (grade)\n", source="grades.csv")
    # A worksheet in French names its columns in French; the upload matches English names only in English Moodle.
    with pytest.raises(WorksheetError, match="with Moodle's language set to English"):
        parse_worksheet("Identifiant,Statut,Note,Dernière modification (note)\n")
    with pytest.raises(WorksheetError) as raised:
        parse_worksheet(
            "Identifier,Status,Grade,Last modified (grade)\n"
            "Participant 1,Submitted for grading,,-\n"
            "7302,Submitted for grading,,-\n"
            "Participant 1,Submitted for grading,,-\n"
            "Participant 3,Submitted for grading\n",
            source="ws.csv",
        )
    assert str(raised.value).splitlines() == [
        "ws.csv, line 3: Identifier '7302' is not 'Participant <n>'",
        "ws.csv, line 4: Participant 1 already on line 2",
        "ws.csv, line 5: 2 fields, the header has 4",
    ]


POLICY = LatePolicy(penalty_percent_per_day=10, cutoff_days=3)


def _graded(student: str, score: float, *, late: bool = False, days: int | None = None) -> StudentResult:
    verdict = Verdict(
        test_id="t",
        name="t",
        exercise="1.1",
        part="activations",
        max_score=30,
        score=score,
        passed=score == 30,
        message="",
    )
    return StudentResult(student_id=student, verdicts=(verdict,), late=late, days_late=days)


def test_export_applies_the_late_policy_grade_applied(tmp_path: Path, course: Course) -> None:
    strict = course.model_copy(update={"late_policy": POLICY})
    out_dir = make_out(tmp_path)
    handins = [
        _graded("7301", 30),
        _graded("7302", 30, late=True, days=2),
        _graded("7303", 30, late=True),
        _graded("7304", 5, late=True, days=1),
        _graded("7320", 30, late=True, days=4),
    ]
    (out_dir / "grades.csv").write_text(grades_csv(handins, course=strict), encoding="utf-8")
    rows = {
        row.student: (row.total, row.late_penalty, row.days_late)
        for row in read_grades_csv(out_dir=out_dir, course=strict)
    }
    # 10% of 100 points per day, never below 0; past 3 days, nothing counts; late without a time: 1 day.
    assert rows == {
        "7301": (30, 0, None),
        "7302": (10, 20, 2),
        "7303": (20, 10, None),
        "7304": (0, 5, 1),
        "7320": (0, 30, 4),
    }
    sheet = parse_worksheet(MOODLE_WORKSHEET_CSV.replace(",No,", ",Yes,"))
    dest = tmp_path / "worksheet.csv"
    export_grades(out_dir=out_dir, to="moodle", course=strict, dest=dest, worksheet=sheet, missing="blank")
    filled = parse_worksheet(dest.read_text(encoding="utf-8"))
    feedback = {
        row.participant_id: (filled.cell(row, "Grade"), filled.cell(row, "Feedback comments")) for row in filled.rows
    }
    assert feedback["7302"][0] == "1" and feedback["7302"][1].endswith(
        "Handed in 2 days late; the late policy deducts 10% of the 100 points per day late. 20 points deducted."
    )
    assert "Handed in late (the LMS gives no time, so it counts as 1 day)" in feedback["7303"][1]
    assert feedback["7320"][1].endswith(
        "Handed in 4 days late; past the late policy's cutoff of 3 days, it scores 0. 30 points deducted."
    )
    # grades.csv made under one policy is never exported under another.
    with pytest.raises(ExportError, match=r"7302's total 10 .* is not what course\.yml's late policy gives now"):
        export_grades(out_dir=out_dir, to="csv", course=course, dest=tmp_path / "x.csv")
    lenient = course.model_copy(update={"late_policy": LatePolicy(penalty_percent_per_day=5)})
    with pytest.raises(ExportError, match="Regrade with coursekit grade --force"):
        export_grades(out_dir=out_dir, to="csv", course=lenient, dest=tmp_path / "x.csv")


def test_the_cli_fills_the_worksheet_and_says_its_points(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from coursekit.cli import app

    out_dir = make_out(tmp_path)
    (tmp_path / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    (tmp_path / "worksheet.csv").write_text(MOODLE_WORKSHEET_CSV, encoding="utf-8")
    dest = tmp_path / "filled.csv"
    arguments = ["export", str(out_dir), "--to", "moodle", "--course-dir", str(REPO), "--dest", str(dest)]
    missing = CliRunner().invoke(app, arguments)
    assert missing.exit_code == 1 and "needs the assignment's grading worksheet" in missing.stderr
    sheet = ["--worksheet", str(tmp_path / "worksheet.csv"), "--roster", str(tmp_path / "roster.csv")]
    filled = CliRunner().invoke(app, [*arguments, *sheet, "--points", "10"])
    assert filled.exit_code == 0, filled.output
    said, warned = " ".join(filled.stdout.split()), " ".join(filled.stderr.split())
    assert "out of 10 points" in said and "grade locked in Moodle, left as it was: zoe" in warned
    assert dest.read_bytes() == (GOLDEN / "moodle_worksheet.csv").read_bytes()
