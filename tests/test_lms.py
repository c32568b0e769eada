"""The LMS round trip: collecting Canvas and Moodle bulk downloads, the roster, and the grade exports.

The exports are compared byte for byte with golden files in tests/golden/lms/; after a deliberate format change,
regenerate them with ``COURSEKIT_UPDATE_GOLDEN=1 pytest tests/test_lms.py`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from coursekit.config import Course, load_course
from coursekit.export.lms import (
    LATE_CSV,
    CollectError,
    ExportError,
    collect_download,
    export_grades,
    format_points,
    hostile_path_reason,
    parse_canvas_file_name,
    parse_moodle_path,
    read_grades,
    strip_canvas_counter,
)
from coursekit.grade.results import StudentResult, grades_csv
from coursekit.intake.roster import Roster, RosterError, load_roster, parse_roster

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "lms"
UPDATE_GOLDEN = os.environ.get("COURSEKIT_UPDATE_GOLDEN") == "1"

ROSTER_CSV = """\
student_id,name,email,canvas_user_id,sis_user_id,sis_login_id,moodle_id,section
alice,Alice Moreau,alice.moreau@students.example.edu,50101,S2024001,amoreau,7301,Lab A
bob,Bob Okafor,bob.okafor@students.example.edu,50102,S2024002,bokafor,7302,Lab A
carol,Carol Lindqvist,carol.lindqvist@students.example.edu,50103,S2024003,clindqvist,7303,Lab B
dave,Dave Kowalski,dave.kowalski@students.example.edu,50104,S2024004,dkowalski,7304,Lab B
erin,Erin Nakamura,,,,,7305,Lab B
zoe,"Zoë Marchetti, Jr.",zoe.marchetti@students.example.edu,50120,S2024020,zmarchetti,7320,Lab B
"""


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(REPO / "course.yml")


@pytest.fixture
def roster() -> Roster:
    return parse_roster(ROSTER_CSV, source="roster.csv")


def tree(root: Path) -> list[str]:
    """Every file under `root`, as sorted relative paths."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            # ZipInfo keeps the name as given, so hostile names reach the archive untouched.
            archive.writestr(zipfile.ZipInfo(name), data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# File names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("doejane_12345_67890_model.py", ("doejane", False, "12345", 67890, "model.py", "model.py")),
        ("doejane_late_12345_67890_model.py", ("doejane", True, "12345", 67890, "model.py", "model.py")),
        ("doejane_LATE_12345_67890_model-1.py", ("doejane", True, "12345", 67890, "model-1.py", "model.py")),
        ("o_neil_12345_67890_my_model.py", ("o_neil", False, "12345", 67890, "my_model.py", "my_model.py")),
        ("anon_k3X9q_67890_training.py", ("", False, "anon_k3X9q", 67890, "training.py", "training.py")),
        ("LATE_anon_k3X9q_67890_training.py", ("", True, "anon_k3X9q", 67890, "training.py", "training.py")),
        ("walshpeggy_50114_text.html", ("walshpeggy", False, "50114", 0, "text.html", "text.html")),
    ],
)
def test_canvas_file_names_are_split_like_canvas_writes_them(
    name: str, expected: tuple[str, bool, str, int, str, str]
) -> None:
    parsed = parse_canvas_file_name(name)
    assert parsed is not None
    got = (parsed.sortable_name, parsed.late, parsed.user_id, parsed.file_id, parsed.original_name, parsed.file_name)
    assert got == expected


@pytest.mark.parametrize("name", ["README.txt", "grades.csv", "doejane_model.py", "doejane_12345_model.py"])
def test_names_canvas_does_not_write_are_not_parsed(name: str) -> None:
    assert parse_canvas_file_name(name) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model-1.py", "model.py"),
        ("handin-12.zip", "handin.zip"),
        ("ch6-2.ipynb", "ch6.ipynb"),
        ("model.py", "model.py"),
        ("data-2024.csv", "data-2024.csv"),
        ("my-model.py", "my-model.py"),
    ],
)
def test_canvas_resubmission_counter_is_stripped(name: str, expected: str) -> None:
    assert strip_canvas_counter(name) == expected


def test_moodle_paths_in_folder_and_flat_form() -> None:
    folder = parse_moodle_path("Jane Doe_123_assignsubmission_file_/src/model.py")
    assert folder is not None
    assert (folder.full_name, folder.participant_id, folder.plugin, folder.file_path) == (
        "Jane Doe",
        "123",
        "file",
        "src/model.py",
    )
    flat = parse_moodle_path("Jane Doe_123_assignsubmission_file_model.py")
    assert flat is not None
    assert (flat.participant_id, flat.file_path) == ("123", "model.py")
    text = parse_moodle_path("Jane Doe_123_assignsubmission_onlinetext_/onlinetext.html")
    assert text is not None and text.plugin == "onlinetext"
    assert parse_moodle_path("Jane Doe_123_assignsubmission_file_") is None
    assert parse_moodle_path("index.html") is None


@pytest.mark.parametrize(
    "path", ["../evil.py", "a/../../evil.py", "/etc/passwd", "C:/evil.py", "a\\..\\evil.py", "a//b.py", "..", "a\0b"]
)
def test_hostile_paths_are_named(path: str) -> None:
    assert hostile_path_reason(path) is not None


def test_plain_paths_are_safe() -> None:
    assert hostile_path_reason("ch6/model.py") is None
    assert hostile_path_reason("Jane Doe_1_assignsubmission_file_/model.py") is None


# ---------------------------------------------------------------------------------------------------------------
# Collecting a Canvas download


def canvas_download(tmp_path: Path) -> Path:
    """A Canvas "Download Submissions" zip, with the cases a real class produces."""
    bob_handin = zip_bytes({"activations.py": b"# bob\n", "model.py": b"# bob\n", "training.py": b"# bob\n"})
    dave_handin = zip_bytes(
        {
            "activations.py": b"# dave from zip\n",
            "model.py": b"# dave stale model from zip\n",
            "ch6/notes.txt": b"notes\n",
            "__MACOSX/ch6/._notes.txt": b"\0",
        }
    )
    return make_zip(
        tmp_path / "ch6-submissions.zip",
        {
            # alice: on time, three loose files
            "moreaualice_50101_9001_activations.py": b"# alice activations\n",
            "moreaualice_50101_9002_model.py": b"# alice model\n",
            "moreaualice_50101_9003_training.py": b"# alice training\n",
            # bob: late, a single zip, kept as is
            "okaforbob_LATE_50102_9010_handin.zip": bob_handin,
            # carol: re-uploaded model.py; Canvas renamed the new one model-1.py, and training-2.py
            "lindqvistcarol_50103_9020_model.py": b"# carol first model\n",
            "lindqvistcarol_50103_9031_model-1.py": b"# carol second model\n",
            "lindqvistcarol_50103_9021_activations.py": b"# carol activations\n",
            "lindqvistcarol_50103_9022_training-2.py": b"# carol training\n",
            # dave: late (old lower-case flag), a zip and a loose file that fixes the zip's model.py
            "kowalskidave_late_50104_9040_submission.zip": dave_handin,
            "kowalskidave_late_50104_9041_model.py": b"# dave fixed model\n",
            # a notebook hand-in from a student the roster does not know
            "nakamuraerin_50105_9050_ch6.ipynb": b'{"cells": []}',
            # junk and strangers
            "README.txt": b"downloaded from Canvas\n",
            "__MACOSX/._moreaualice_50101_9001_activations.py": b"\0",
            # hostile names
            "../evil.py": b"import os\n",
            "/abs/evil.py": b"import os\n",
            "moreaualice_50101_9099_..": b"climb\n",
        },
    )


def test_collect_canvas_zip(tmp_path: Path, roster: Roster) -> None:
    out_dir = tmp_path / "submissions"
    report = collect_download(download=canvas_download(tmp_path), lms="canvas", out_dir=out_dir, roster=roster)

    assert tree(out_dir) == [
        "50105.ipynb",
        "alice/activations.py",
        "alice/model.py",
        "alice/training.py",
        "bob.zip",
        "carol/activations.py",
        "carol/model.py",
        "carol/training.py",
        "dave/activations.py",
        "dave/ch6/notes.txt",
        "dave/model.py",
        LATE_CSV,
    ]
    assert (out_dir / "carol/model.py").read_bytes() == b"# carol second model\n"
    assert (out_dir / "dave/model.py").read_bytes() == b"# dave fixed model\n"
    assert (out_dir / "dave/activations.py").read_bytes() == b"# dave from zip\n"
    with zipfile.ZipFile(out_dir / "bob.zip") as bob:
        assert sorted(bob.namelist()) == ["activations.py", "model.py", "training.py"]
    assert (out_dir / LATE_CSV).read_text(encoding="utf-8") == (
        "student,late\n50105,0\nalice,0\nbob,1\ncarol,0\ndave,1\n"
    )

    assert [(entry.student, entry.path, entry.lms_id, entry.late) for entry in report.entries] == [
        ("50105", "50105.ipynb", "50105", False),
        ("alice", "alice", "50101", False),
        ("bob", "bob.zip", "50102", True),
        ("carol", "carol", "50103", False),
        ("dave", "dave", "50104", True),
    ]
    assert report.not_in_roster == ("50105",)
    assert report.roster_without_handin == ("erin", "zoe")
    assert report.late_csv == out_dir / LATE_CSV
    assert [skipped.path for skipped in report.unrecognised] == [
        "README.txt",
        "__MACOSX/._moreaualice_50101_9001_activations.py",
        "kowalskidave_late_50104_9040_submission.zip!/__MACOSX/ch6/._notes.txt",
    ]
    assert {skipped.path for skipped in report.rejected} == {
        "../evil.py",
        "/abs/evil.py",
        "moreaualice_50101_9099_..",
    }
    assert [(skipped.path, skipped.reason) for skipped in report.superseded] == [
        (
            "kowalskidave_late_50104_9040_submission.zip!/model.py",
            "a file of the same name was handed in beside the zip",
        ),
        ("lindqvistcarol_50103_9020_model.py", "replaced by the later upload lindqvistcarol_50103_9031_model-1.py"),
    ]
    # Nothing escaped out_dir.
    assert not (tmp_path / "evil.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch6-submissions.zip", "submissions"]


def test_collect_canvas_without_roster_names_entries_by_canvas_id(tmp_path: Path) -> None:
    out_dir = tmp_path / "submissions"
    report = collect_download(download=canvas_download(tmp_path), lms="canvas", out_dir=out_dir)
    assert [entry.student for entry in report.entries] == ["50101", "50102", "50103", "50104", "50105"]
    assert "50102.zip" in tree(out_dir)
    assert report.not_in_roster == ()
    assert report.roster_without_handin == ()


def test_collect_unwraps_a_folder_around_the_download(tmp_path: Path) -> None:
    download = tmp_path / "download"
    wrapped = download / "Chapter 6 submissions"
    wrapped.mkdir(parents=True)
    (wrapped / "moreaualice_50101_9001_activations.py").write_text("# alice\n")
    (wrapped / "moreaualice_50101_9002_model.py").write_text("# alice\n")
    report = collect_download(download=download, lms="canvas", out_dir=tmp_path / "out")
    assert tree(tmp_path / "out") == ["50101/activations.py", "50101/model.py", LATE_CSV]
    assert report.unrecognised == ()


def test_collect_refuses_a_used_out_dir(tmp_path: Path) -> None:
    out_dir = tmp_path / "submissions"
    out_dir.mkdir()
    (out_dir / "alice.zip").write_bytes(b"old")
    with pytest.raises(CollectError, match="not an empty folder"):
        collect_download(download=canvas_download(tmp_path), lms="canvas", out_dir=out_dir)


def test_collect_refuses_a_download_that_is_not_a_zip(tmp_path: Path) -> None:
    download = tmp_path / "download.zip"
    download.write_bytes(b"<html>session expired</html>")
    with pytest.raises(CollectError, match="not a readable zip archive"):
        collect_download(download=download, lms="canvas", out_dir=tmp_path / "out")


def test_collect_caps_each_students_bytes(tmp_path: Path) -> None:
    download = make_zip(
        tmp_path / "download.zip",
        {
            "moreaualice_50101_9001_model.py": b"x" * 2000,
            "okaforbob_50102_9002_model.py": b"y" * 10,
        },
    )
    report = collect_download(download=download, lms="canvas", out_dir=tmp_path / "out", max_entry_bytes=1000)
    assert tree(tmp_path / "out") == ["50102/model.py", LATE_CSV]
    assert [skipped.path for skipped in report.rejected] == ["moreaualice_50101_9001_model.py"]
    assert any("50101" in warning for warning in report.warnings)


# ---------------------------------------------------------------------------------------------------------------
# Collecting a Moodle download


def test_collect_moodle_folders(tmp_path: Path, roster: Roster) -> None:
    download = tmp_path / "moodle"
    files = {
        "Alice Moreau_7301_assignsubmission_file_/activations.py": b"# alice\n",
        "Alice Moreau_7301_assignsubmission_file_/model.py": b"# alice\n",
        "Alice Moreau_7301_assignsubmission_file_/training.py": b"# alice\n",
        "Bob Okafor_7302_assignsubmission_file_/handin.zip": zip_bytes({"model.py": b"# bob\n"}),
        "Carol Lindqvist_7303_assignsubmission_file_/src/model.py": b"# carol\n",
        "Carol Lindqvist_7303_assignsubmission_onlinetext_/onlinetext.html": b"<p>see src/</p>\n",
        "Participant_9999_assignsubmission_file_/model.py": b"# unknown\n",
        "index.html": b"<html></html>\n",
    }
    for name, data in files.items():
        (download / name).parent.mkdir(parents=True, exist_ok=True)
        (download / name).write_bytes(data)
    (download / "Alice Moreau_7301_assignsubmission_file_" / "passwd").symlink_to("/etc/passwd")
    # A legal file name on Linux that Windows would read as a path out of the folder.
    (download / "Alice Moreau_7301_assignsubmission_file_" / "..\\evil.py").write_text("climb\n")

    out_dir = tmp_path / "submissions"
    report = collect_download(download=download, lms="moodle", out_dir=out_dir, roster=roster)

    assert tree(out_dir) == [
        "9999/model.py",
        "alice/activations.py",
        "alice/model.py",
        "alice/training.py",
        "bob.zip",
        "carol/onlinetext.html",
        "carol/src/model.py",
    ]
    assert [(entry.student, entry.lms_id, entry.lms_name, entry.late) for entry in report.entries] == [
        ("9999", "9999", "Participant", None),
        ("alice", "7301", "Alice Moreau", None),
        ("bob", "7302", "Bob Okafor", None),
        ("carol", "7303", "Carol Lindqvist", None),
    ]
    assert report.late_csv is None
    assert [(skipped.path, skipped.reason) for skipped in report.rejected] == [
        ("Alice Moreau_7301_assignsubmission_file_/..\\evil.py", "backslash in name"),
        ("Alice Moreau_7301_assignsubmission_file_/passwd", "symbolic link"),
    ]
    assert [skipped.path for skipped in report.unrecognised] == ["index.html"]
    assert report.not_in_roster == ("9999",)
    assert report.roster_without_handin == ("dave", "erin", "zoe")


def test_collect_moodle_flat_zip(tmp_path: Path, roster: Roster) -> None:
    download = make_zip(
        tmp_path / "moodle.zip",
        {
            "Dave Kowalski_7304_assignsubmission_file_activations.py": b"# dave\n",
            "Dave Kowalski_7304_assignsubmission_file_model.py": b"# dave\n",
            "Erin Nakamura_7305_assignsubmission_file_ch6.ipynb": b'{"cells": []}',
            "Dave Kowalski_7304_assignsubmission_file_/../../escape.py": b"climb\n",
            "Erin Nakamura_7305_assignsubmission_file_/C:/escape.py": b"climb\n",
        },
    )
    out_dir = tmp_path / "submissions"
    report = collect_download(download=download, lms="moodle", out_dir=out_dir, roster=roster)
    assert tree(out_dir) == ["dave/activations.py", "dave/model.py", "erin.ipynb"]
    assert {skipped.path for skipped in report.rejected} == {
        "Dave Kowalski_7304_assignsubmission_file_/../../escape.py",
        "Erin Nakamura_7305_assignsubmission_file_/C:/escape.py",
    }
    assert not (tmp_path / "escape.py").exists()


def test_collect_keeps_a_wrapper_folder_that_is_a_moodle_student(tmp_path: Path) -> None:
    download = make_zip(tmp_path / "moodle.zip", {"Alice Moreau_7301_assignsubmission_file_/model.py": b"# alice\n"})
    collect_download(download=download, lms="moodle", out_dir=tmp_path / "out")
    assert tree(tmp_path / "out") == ["7301/model.py"]


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
    for to in ("canvas", "moodle"):
        with pytest.raises(ExportError, match="needs a roster"):
            export_grades(out_dir=make_out(tmp_path / to), to=to, course=course, dest=tmp_path / "x.csv")  # type: ignore[arg-type]


def test_export_rejects_grades_from_another_course(tmp_path: Path, course: Course, roster: Roster) -> None:
    out_dir = make_out(tmp_path)
    (out_dir / "grades.csv").write_text("student,part_a,total,max_total,late,errors\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"grades.csv, line 1: columns .* do not match course.yml"):
        export_grades(out_dir=out_dir, to="csv", course=course, dest=tmp_path / "x.csv", roster=roster)
    (out_dir / "grades.csv").write_text(GRADES_CSV.replace("42.5,100,1", "42.5,100,yes"), encoding="utf-8")
    with pytest.raises(ExportError, match=r"grades\.csv, line 3: late must be 0 or 1"):
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
    rows = {row.student: row for row in read_grades(out_dir=out_dir, course=course)}
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
