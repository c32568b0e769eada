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
from lms_files import ROSTER_CSV
from repo_paths import GOLDEN as GOLDEN_FILES
from repo_paths import REPO

from coursekit.config import Course, load_course
from coursekit.export import ExportTarget
from coursekit.export.lms import ExportError, export_grades, format_points
from coursekit.grade.results import GradesCsvError, StudentResult, grades_csv, read_grades_csv
from coursekit.intake.roster import Roster, RosterError, load_roster, parse_roster

GOLDEN = GOLDEN_FILES / "lms"
UPDATE_GOLDEN = os.environ.get("COURSEKIT_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(REPO / "course.yml")


@pytest.fixture
def roster() -> Roster:
    return parse_roster(ROSTER_CSV, source="roster.csv")


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
student,activations,model,training,total,max_total,late,errors
alice,30,30,40,100,100,0,
bob,30,12.5,0,42.5,100,1,training: the validation loss never went down
carol,15,30,40,85,100,0,
50104,20,20,20.333,60.333,100,0,
mallory,0,0,0,0,100,0,"no activations.py, model.py or training.py"
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


def test_export_moodle_matches_golden(tmp_path: Path, course: Course, roster: Roster) -> None:
    dest = tmp_path / "moodle.csv"
    report = export_grades(out_dir=make_out(tmp_path), to="moodle", course=course, dest=dest, roster=roster)
    check_golden(dest, "moodle.csv")
    assert report.rows == 5
    assert report.unidentified == ("erin",)


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


def test_export_needs_a_roster_for_an_lms(tmp_path: Path, course: Course) -> None:
    targets: tuple[ExportTarget, ...] = ("canvas", "moodle")
    for to in targets:
        with pytest.raises(ExportError, match="needs a roster"):
            export_grades(out_dir=make_out(tmp_path / to), to=to, course=course, dest=tmp_path / "x.csv")


def test_export_rejects_grades_from_another_course(tmp_path: Path, course: Course, roster: Roster) -> None:
    out_dir = make_out(tmp_path)
    (out_dir / "grades.csv").write_text("student,part_a,total,max_total,late,errors\n", encoding="utf-8")
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
    moodle = cells("moodle", roster=roster)
    assert moodle[1][2].endswith("Problems: =1+1 &lt;img src=x onerror=alert(1)&gt;")
    plain = cells("csv")
    assert [row[0] for row in plain[1:]] == ['\'=HYPERLINK("evil.example","A+")', "alice"]
    assert plain[1][4:] == ["0", "0", "0", "0", "100", "0"]
