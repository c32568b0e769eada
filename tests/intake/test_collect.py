"""Collecting Canvas and Moodle bulk downloads into one hand-in per student (coursekit.intake.collect)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lms_files import MOODLE_WORKSHEET_CSV, ROSTER_CSV, make_zip, tree, zip_bytes

from coursekit.intake.collect import (
    LATE_CSV,
    ON_TIME,
    CollectError,
    LateCsvError,
    Lateness,
    collect_download,
    parse_canvas_file_name,
    parse_moodle_path,
    read_late_csv,
    read_late_flags,
    strip_canvas_counter,
    write_late_csv,
)
from coursekit.intake.roster import Roster, parse_roster
from coursekit.intake.worksheet import parse_worksheet


@pytest.fixture
def roster() -> Roster:
    return parse_roster(ROSTER_CSV, source="roster.csv")


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
        "student,late,days_late\n50105,0,\nalice,0,\nbob,1,\ncarol,0,\ndave,1,\n"
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
        ("Alice Moreau_7301_assignsubmission_file_/..\\evil.py", "it climbs out of the folder with '..'"),
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
# What collecting shares with intake


def test_collect_reads_a_zip_from_old_windows_tools_as_intake_does(tmp_path: Path) -> None:
    """A hand-in zip with backslashes between folders, next to a loose file: unpacked into the entry's folder."""
    handin = zip_bytes({"hw6\\activations.py": b"# from zip\n", "hw6\\..\\..\\escape.py": b"climb\n"})
    download = make_zip(
        tmp_path / "download.zip",
        {
            "moreaualice_50101_9001_handin.zip": handin,
            "moreaualice_50101_9002_model.py": b"# loose\n",
        },
    )
    report = collect_download(download=download, lms="canvas", out_dir=tmp_path / "out")
    assert tree(tmp_path / "out") == ["50101/hw6/activations.py", "50101/model.py", LATE_CSV]
    assert [(skipped.path, skipped.reason) for skipped in report.rejected] == [
        ("moreaualice_50101_9001_handin.zip!/hw6\\..\\..\\escape.py", "it climbs out of the folder with '..'")
    ]
    assert not (tmp_path / "escape.py").exists()


def test_collect_leaves_apple_double_files_out(tmp_path: Path) -> None:
    download = make_zip(
        tmp_path / "download.zip",
        {"moreaualice_50101_9001_model.py": b"# alice\n", "._moreaualice_50101_9001_model.py": b"\0\5\26\7"},
    )
    report = collect_download(download=download, lms="canvas", out_dir=tmp_path / "out")
    assert tree(tmp_path / "out") == ["50101/model.py", LATE_CSV]
    assert [(skipped.path, skipped.reason) for skipped in report.unrecognised] == [
        ("._moreaualice_50101_9001_model.py", "operating-system metadata, not part of a hand-in")
    ]


def test_late_csv_is_read_as_written(tmp_path: Path) -> None:
    path = write_late_csv(tmp_path, {"alice": ON_TIME, "bob": Lateness(late=True), "carol": Lateness(True, 3)})
    assert path == tmp_path / LATE_CSV
    assert read_late_flags(tmp_path) == {"alice": False, "bob": True, "carol": True}
    assert read_late_csv(tmp_path) == {"alice": ON_TIME, "bob": Lateness(late=True), "carol": Lateness(True, 3)}
    assert read_late_flags(tmp_path / "nowhere") == {}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("alice,yes,\n", "line 2: late must be 0 or 1, got 'yes'"),
        ("alice,1,two\n", "line 2: days_late must be a whole number of days, 1 or more, on a late row"),
        ("alice,1,0\n", "line 2: days_late must be a whole number"),
        ("alice,0,3\n", "line 2: days_late must be a whole number"),
    ],
)
def test_a_late_csv_a_policy_cannot_trust_is_an_error(tmp_path: Path, rows: str, message: str) -> None:
    (tmp_path / LATE_CSV).write_text("student,late,days_late\n" + rows, encoding="utf-8")
    with pytest.raises(LateCsvError, match=message):
        read_late_csv(tmp_path)


def test_moodle_lateness_comes_from_the_grading_worksheet(tmp_path: Path) -> None:
    worksheet = parse_worksheet(MOODLE_WORKSHEET_CSV, source="worksheet.csv")
    download = make_zip(
        tmp_path / "download.zip",
        {
            "Bob Okafor_7302_assignsubmission_file_model.py": b"# bob\n",
            "Carol Lindqvist_7303_assignsubmission_file_model.py": b"# carol\n",
            "Someone New_7777_assignsubmission_file_model.py": b"# new\n",
        },
    )
    report = collect_download(download=download, lms="moodle", out_dir=tmp_path / "out", worksheet=worksheet)
    assert [(entry.student, entry.late, entry.days_late) for entry in report.entries] == [
        ("7302", True, 2),
        ("7303", False, None),
        ("7777", False, None),
    ]
    assert report.late_csv == tmp_path / "out" / LATE_CSV
    assert read_late_csv(tmp_path / "out") == {"7302": Lateness(True, 2), "7303": ON_TIME, "7777": ON_TIME}
    assert report.warnings == ("moodle participant 7777 is not in the grading worksheet worksheet.csv",)
    with pytest.raises(CollectError, match="a grading worksheet is Moodle's"):
        collect_download(download=download, lms="canvas", out_dir=tmp_path / "canvas", worksheet=worksheet)
