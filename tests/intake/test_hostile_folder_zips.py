"""Hostile folder zips: names, markers and listings that try to make intake grade the wrong file, write outside its
folder, read without bound or crash. Every zip is a real one, written with zipfile or patched byte by byte."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.config import load_course
from coursekit.intake.handin import unpack_handin

COURSE = load_course(REPO / "course.yml")
PART_FILES = sorted(part.file for part in COURSE.assignment.parts)
SOLUTIONS = {name: (REPO / "solutions" / name).read_bytes() for name in PART_FILES}
IMPOSTOR = b"raise SystemExit('not the student')\n"


def _unpack(zip_path: Path, tmp_path: Path):
    out = tmp_path / "out"
    handin = unpack_handin(student_id="eve", source=zip_path, dest_dir=out, course=COURSE, limits=COURSE.intake)
    # Nothing is ever written outside the folder, nor under any name but a module's.
    assert {path.name for path in out.iterdir()} <= set(PART_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", zip_path.name])
    return handin, out


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _messages(handin) -> str:
    return "\n".join(problem.message for problem in handin.problems)


def test_a_planted_pyvenv_cfg_beside_the_modules_does_not_hide_them(tmp_path: Path) -> None:
    members = [(f"ch6/{name}", data) for name, data in SOLUTIONS.items()]
    members += [("ch6/pyvenv.cfg", b"home = /usr/bin\n"), ("ch6/lib/python3.11/site-packages/model.py", IMPOSTOR)]
    handin, out = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert sorted(handin.files) == PART_FILES
    assert all((out / name).read_bytes() == data for name, data in SOLUTIONS.items())


def test_a_pyvenv_cfg_beside_capitalised_modules_does_not_hide_them(tmp_path: Path) -> None:
    members = [(f"ch6/{name.capitalize()}", data) for name, data in SOLUTIONS.items()]
    members.append(("ch6/pyvenv.cfg", b"home = /usr/bin\n"))
    handin, _ = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert sorted(handin.files) == PART_FILES


def test_a_module_only_inside_a_venv_is_never_graded(tmp_path: Path) -> None:
    members = [(f"ch6/.venv/lib/python3.11/site-packages/{name}", IMPOSTOR) for name in PART_FILES]
    members += [(f"ch6\\venv\\Lib\\site-packages\\{name}", IMPOSTOR) for name in PART_FILES]
    members += [(f"ch6/.git/{name}", IMPOSTOR) for name in PART_FILES]
    members.append(("ch6/notes.txt", b"hello"))
    handin, out = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert handin.files == () and list(out.iterdir()) == []
    assert "holds no" in _messages(handin)


@pytest.mark.parametrize(
    "name",
    [
        ".venv/../activations.py",
        "ch6\\.venv\\..\\..\\activations.py",
        "/activations.py",
        "\\activations.py",
        "C:\\activations.py",
        "ch6/../../activations.py",
    ],
)
def test_unsafe_names_are_reported_and_the_real_module_is_graded(tmp_path: Path, name: str) -> None:
    members = [(f"ch6/{module}", data) for module, data in SOLUTIONS.items()]
    members.insert(0, (name, IMPOSTOR))
    handin, out = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert sorted(handin.files) == PART_FILES
    assert (out / "activations.py").read_bytes() == SOLUTIONS["activations.py"]
    assert "unsafe path" in _messages(handin)


def test_a_look_alike_venv_name_is_not_a_student_folder(tmp_path: Path) -> None:
    # Cyrillic "е" in ".vеnv": still a hidden folder, so still never graded over the real modules.
    members = [(f".v\u0435nv/{module}", IMPOSTOR) for module in PART_FILES]
    members += [(f"ch6/{module}", data) for module, data in SOLUTIONS.items()]
    _, out = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert all((out / name).read_bytes() == data for name, data in SOLUTIONS.items())


def test_duplicate_entries_are_named_and_one_is_graded(tmp_path: Path) -> None:
    members = [(f"ch6/{module}", data) for module, data in SOLUTIONS.items()]
    members.append(("ch6/activations.py", IMPOSTOR))
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = _zip(tmp_path / "eve.zip", members)
    handin, out = _unpack(path, tmp_path)
    assert "2 files named activations.py" in _messages(handin)
    # The first in the listing, as the note's order says; never a crash, never both.
    assert (out / "activations.py").read_bytes() == SOLUTIONS["activations.py"]


def test_a_central_directory_that_understates_sizes_is_still_bounded(tmp_path: Path) -> None:
    bomb = b"\n" * (int(COURSE.intake.max_total_mb * 1024 * 1024) + 4096)
    path = tmp_path / "eve.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for module, data in SOLUTIONS.items():
            archive.writestr(f"ch6/{module}", bomb if module == "model.py" else data)
    raw = bytearray(path.read_bytes())
    # model.py's central-directory record says 10 bytes uncompressed: zipfile stops there and the CRC fails.
    offset = raw.find(b"PK\x01\x02")
    while raw[offset + 46 : offset + 58] != b"ch6/model.py":
        offset = raw.find(b"PK\x01\x02", offset + 4)
    raw[offset + 24 : offset + 28] = struct.pack("<I", 10)
    path.write_bytes(bytes(raw))
    handin, out = _unpack(path, tmp_path)
    assert "model.py" not in handin.files
    assert any(problem.file == "model.py" for problem in handin.problems), handin.problems
    assert (out / "activations.py").read_bytes() == SOLUTIONS["activations.py"]


def test_a_module_that_decompresses_past_the_limit_is_refused(tmp_path: Path) -> None:
    bomb = b"#" * (int(COURSE.intake.max_total_mb * 1024 * 1024) + 1)
    path = tmp_path / "eve.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for module, data in SOLUTIONS.items():
            archive.writestr(f"ch6/{module}", bomb if module == "training.py" else data)
    handin, _ = _unpack(path, tmp_path)
    assert "training.py" not in handin.files
    assert "unpacks to more than" in _messages(handin)


def test_a_symlink_entry_named_like_a_module_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "eve.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("ch6/model.py")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        for module in ("activations.py", "training.py"):
            archive.writestr(f"ch6/{module}", SOLUTIONS[module])
    handin, out = _unpack(path, tmp_path)
    assert "model.py" not in handin.files and not (out / "model.py").exists()
    assert "symbolic link" in _messages(handin)


def test_a_huge_venv_listing_is_skipped_without_counting_against_the_entry_bound(tmp_path: Path) -> None:
    members = [(f"ch6/.venv/lib/site-packages/x/{index}.py", b"") for index in range(COURSE.intake.max_entries * 20)]
    members += [(f"ch6/{module}", data) for module, data in SOLUTIONS.items()]
    handin, _ = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert sorted(handin.files) == PART_FILES
    assert "skipped without reading" in _messages(handin)


def test_many_entries_outside_a_venv_hit_the_entry_bound_with_a_note(tmp_path: Path) -> None:
    members = [(f"ch6/data/{index}.txt", b"") for index in range(COURSE.intake.max_entries + 10)]
    members += [(f"ch6/{module}", data) for module, data in SOLUTIONS.items()]
    handin, _ = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert f"more than {COURSE.intake.max_entries} files" in _messages(handin)


def test_a_hand_in_folder_whose_subfolder_holds_pyvenv_cfg_and_capitalised_modules_is_graded(tmp_path: Path) -> None:
    # The zip reading treats module names in any case alike (test above); a folder hand-in must agree.
    folder = tmp_path / "eve" / "ch6"
    folder.mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for name, data in SOLUTIONS.items():
        (folder / name.capitalize()).write_bytes(data)
    out = tmp_path / "out"
    handin = unpack_handin(student_id="eve", source=tmp_path / "eve", dest_dir=out, course=COURSE, limits=COURSE.intake)
    assert sorted(handin.files) == PART_FILES, handin.problems


def test_zip64_records_are_read_like_any_other(tmp_path: Path) -> None:
    path = tmp_path / "eve.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for module, data in SOLUTIONS.items():
            with archive.open(f"ch6/{module}", "w", force_zip64=True) as entry:
                entry.write(data)
    handin, out = _unpack(path, tmp_path)
    assert sorted(handin.files) == PART_FILES and handin.problems == ()
    assert all((out / name).read_bytes() == data for name, data in SOLUTIONS.items())


@pytest.mark.xfail(
    strict=True,
    reason="a folder holding pyvenv.cfg and no module directly is skipped whole, so `python -m venv .` in a project "
    "whose modules sit in a subfolder (src/) hides them; skipping only the venv's own folders (lib, bin, ...) under "
    "every venv root would keep them, but changes the skipped-folder note the folder-zip tests read",
)
def test_modules_in_a_subfolder_of_a_folder_made_a_venv_in_place_are_graded(tmp_path: Path) -> None:
    members = [("ch6/pyvenv.cfg", b"home = /usr/bin\n"), ("ch6/lib/python3.11/site-packages/model.py", IMPOSTOR)]
    members += [(f"ch6/src/{name}", data) for name, data in SOLUTIONS.items()]
    handin, _ = _unpack(_zip(tmp_path / "eve.zip", members), tmp_path)
    assert sorted(handin.files) == PART_FILES, handin.problems
