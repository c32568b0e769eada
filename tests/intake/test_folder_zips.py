"""A zip of the whole student folder (what a student makes when told "zip this folder"): graded from its modules.

The zip carries a virtual environment of 60 MB of real file content (random bytes, stored: the zip itself is over
the 50 MB hand-in budget), thousands of files beyond max_entries, `__pycache__` and `.git`.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.author.release import collect_student_files
from coursekit.config import load_course
from coursekit.grade.engine import grade_class
from coursekit.grade.results import read_student_result
from coursekit.intake import handin as handin_module
from coursekit.intake.handin import unpack_handin

COURSE = load_course(REPO / "course.yml")
PART_FILES = sorted(part.file for part in COURSE.assignment.parts)
VENV_MB = 60


def student_folder_zip(path: Path, *, venv_name: str = ".venv") -> Path:
    """The release folder with the solutions, a venv, caches and a git repository, zipped as a student would."""
    files = collect_student_files(course_dir=REPO, course=COURSE)
    files |= {name: (REPO / "solutions" / name).read_bytes() for name in PART_FILES}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(f"ch6/{name}", content, compress_type=zipfile.ZIP_DEFLATED)
        venv = f"ch6/{venv_name}"
        archive.writestr(f"{venv}/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n")
        site = f"{venv}/lib/python3.11/site-packages"
        for index in range(VENV_MB):
            archive.writestr(f"{site}/torch/lib/part{index}.so", os.urandom(1024 * 1024))
        for index in range(COURSE.intake.max_entries + 500):
            archive.writestr(f"{site}/torch/include/header{index}.h", f"// header {index}\n")
        # A venv's own copy of a module named like the student's, which must never be graded.
        archive.writestr(f"{site}/training.py", "raise SystemExit('not the student')\n")
        archive.writestr("ch6/__pycache__/model.cpython-311.pyc", b"\x00" * 1000)
        archive.writestr("ch6/.git/HEAD", "ref: refs/heads/main\n")
        archive.writestr("ch6/.git/objects/ab/cdef", os.urandom(2048))
    return path


@pytest.fixture(scope="module")
def folder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return student_folder_zip(tmp_path_factory.mktemp("zips") / "alice.zip")


def test_the_zip_is_larger_than_the_hand_in_budget(folder_zip: Path) -> None:
    assert folder_zip.stat().st_size > COURSE.intake.max_total_mb * 1024 * 1024


def test_a_folder_zip_is_unpacked_from_its_modules_and_says_what_was_skipped(folder_zip: Path, tmp_path: Path) -> None:
    handin = unpack_handin(
        student_id="alice", source=folder_zip, dest_dir=tmp_path / "out", course=COURSE, limits=COURSE.intake
    )
    assert sorted(handin.files) == PART_FILES
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == PART_FILES
    for name in PART_FILES:
        assert (tmp_path / "out" / name).read_bytes() == (REPO / "solutions" / name).read_bytes()
    assert len(handin.problems) == 1, handin.problems
    note = handin.problems[0].message
    assert note.startswith("alice.zip: skipped without reading (")
    assert "a virtual environment: ch6/.venv/" in note and "version control: ch6/.git/" in note
    assert "python handin.py" in note


def test_an_environment_is_recognised_by_its_pyvenv_cfg_whatever_its_name(tmp_path: Path) -> None:
    source = student_folder_zip(tmp_path / "bob.zip", venv_name="my-env")
    handin = unpack_handin(
        student_id="bob", source=source, dest_dir=tmp_path / "out", course=COURSE, limits=COURSE.intake
    )
    assert sorted(handin.files) == PART_FILES
    assert [problem.message for problem in handin.problems if "my-env" in problem.message]


def test_what_is_read_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A module that decompresses past the budget is still refused, though the budget no longer caps the zip's size.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.py", b"#" * (int(COURSE.intake.max_total_mb * 1024 * 1024) + 1))
    handin = unpack_handin(student_id="b", source=bomb, dest_dir=tmp_path / "b", course=COURSE, limits=COURSE.intake)
    assert "model.py" not in handin.files
    assert any("unpacks to more than the 50 MB limit" in problem.message for problem in handin.problems)
    # A listing larger than intake reads is refused before zipfile parses it.
    monkeypatch.setattr(handin_module, "MAX_ZIP_DIRECTORY_BYTES", 4096)
    listed = student_folder_zip(tmp_path / "listed.zip")
    handin = unpack_handin(student_id="l", source=listed, dest_dir=tmp_path / "l", course=COURSE, limits=COURSE.intake)
    assert handin.files == ()
    assert [problem.message for problem in handin.problems if "lists more files than intake reads" in problem.message]


def test_a_folder_hand_in_skips_a_venv_without_a_dot_and_notes_it(tmp_path: Path) -> None:
    folder = tmp_path / "carol"
    folder.mkdir()
    for name in PART_FILES:
        shutil.copy(REPO / "solutions" / name, folder / name)
    venv = folder / "venv" / "lib" / "python3.11" / "site-packages"
    venv.mkdir(parents=True)
    (folder / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for index in range(COURSE.intake.max_entries + 10):
        (venv / f"m{index}.py").write_text("x = 1\n")
    handin = unpack_handin(
        student_id="c", source=folder, dest_dir=tmp_path / "out", course=COURSE, limits=COURSE.intake
    )
    assert sorted(handin.files) == PART_FILES
    assert [problem.message for problem in handin.problems] == [
        "carol/: skipped without reading: a virtual environment: venv/. Only activations.py, model.py and "
        "training.py are graded; `python handin.py` in your folder makes a zip of just those"
    ]


@pytest.mark.slow
def test_a_folder_zip_with_a_60_mb_venv_grades_full_marks_for_the_solutions(folder_zip: Path, tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(folder_zip, submissions / "alice.zip")
    out = tmp_path / "out"
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=out, jobs=1)
    assert report is not None
    result = read_student_result(out, "alice")
    assert result is not None
    assert result.score == COURSE.assignment.points == 100
    feedback = (out / "feedback" / "alice.md").read_text(encoding="utf-8")
    assert "skipped without reading" in feedback and "ch6/.venv/" in feedback


def test_a_venv_made_in_the_folder_itself_skips_its_own_folders_not_the_modules(tmp_path: Path) -> None:
    """`python -m venv .` in the student's folder: pyvenv.cfg, lib/ and bin/ sit beside the modules."""
    source = tmp_path / "dan.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for name in PART_FILES:
            archive.write(REPO / "solutions" / name, f"ch6/{name}")
        archive.writestr("ch6/pyvenv.cfg", "home = /usr/bin\n")
        for index in range(COURSE.intake.max_entries + 10):
            archive.writestr(f"ch6/lib/python3.11/site-packages/pkg/m{index}.py", "x = 1\n")
        archive.writestr("ch6/bin/python", "#!/bin/sh\n")
    handin = unpack_handin(student_id="d", source=source, dest_dir=tmp_path / "z", course=COURSE, limits=COURSE.intake)
    assert sorted(handin.files) == PART_FILES
    assert [problem.message for problem in handin.problems if "a virtual environment: ch6/" in problem.message]

    folder = tmp_path / "dan"
    with zipfile.ZipFile(source) as archive:
        archive.extractall(folder)
    handin = unpack_handin(student_id="d", source=folder, dest_dir=tmp_path / "f", course=COURSE, limits=COURSE.intake)
    assert sorted(handin.files) == PART_FILES
    assert [problem.message for problem in handin.problems if "a virtual environment: ch6/" in problem.message]
