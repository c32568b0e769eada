"""Intake against real hand-ins: zips built with zipfile, notebooks built with nbformat, folders on disk.

Every unpack goes through `unpack`, which also checks that nothing was created outside the hand-in's folder.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from repo_paths import REPO

from coursekit.config import Course, IntakeLimits, load_course, parse_course
from coursekit.intake.handin import (
    MAX_CELL_PROBLEMS_NAMED,
    MAX_NOTEBOOK_CELLS,
    MAX_NOTEBOOK_OUTPUTS,
    MAX_SOURCE_BYTES,
    Handin,
    HandinConflictError,
    Problem,
    discover_handins,
    notebook_code,
    unpack_handin,
)

ROOT = REPO
COURSE = load_course(ROOT / "course.yml")
MODULE_FILES = tuple(COURSE.contract)
SOLUTIONS = {name: (ROOT / "solutions" / name).read_bytes() for name in MODULE_FILES}
STUBS = {name: (ROOT / "exercises" / name).read_bytes() for name in MODULE_FILES}
LIMITS = IntakeLimits(max_total_mb=1, max_entries=50)
ALL = ("activations.py", "model.py", "training.py")


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def unpack(tmp_path: Path, source: Path, *, limits: IntakeLimits = LIMITS, course: Course = COURSE) -> Handin:
    """Unpack into tmp_path/out/<id>, asserting the folder holds exactly `files` and nothing appeared elsewhere."""
    before = tree(tmp_path)
    dest = tmp_path / "out" / "alice"
    handin = unpack_handin(student_id="alice", source=source, dest_dir=dest, course=course, limits=limits)
    assert handin.directory == dest
    assert sorted(path.name for path in dest.iterdir()) == sorted(handin.files)
    outside = {path for path in tree(tmp_path) - before if dest not in path.parents and path not in (dest, dest.parent)}
    assert outside == set()
    return handin


def make_zip(path: Path, entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return path


def patch_entry(data: bytes, name: str, *, local_at: int, central_at: int, value: int) -> bytes:
    """Overwrite a 2- or 4-byte field of one entry in both its local header and its central directory record."""
    patched = bytearray(data)
    encoded = name.encode()
    width = 2 if local_at in (6, 8) else 4
    for signature, field_at, name_length_at, name_at in (
        (b"PK\x03\x04", local_at, 26, 30),
        (b"PK\x01\x02", central_at, 28, 46),
    ):
        start = 0
        while (start := patched.find(signature, start)) >= 0:
            (length,) = struct.unpack_from("<H", patched, start + name_length_at)
            if bytes(patched[start + name_at : start + name_at + length]) == encoded:
                current = int.from_bytes(patched[start + field_at : start + field_at + width], "little")
                new = current | value if width == 2 else value
                patched[start + field_at : start + field_at + width] = new.to_bytes(width, "little")
            start += 4
    return bytes(patched)


def notebook_bytes(*cells: str, markdown: str = "# Chapter 6") -> bytes:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(markdown), *(nbformat.v4.new_code_cell(cell) for cell in cells)]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(notebook).encode()


# -- zips --------------------------------------------------------------------------------------------------------


def test_a_zip_of_the_three_modules_unpacks_as_they_are(tmp_path: Path) -> None:
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", SOLUTIONS))

    assert handin.files == ALL
    assert handin.problems == ()
    for name in ALL:
        assert (handin.directory / name).read_bytes() == SOLUTIONS[name]


def test_a_mac_made_zip_with_a_folder_and_macos_junk_unpacks_silently(tmp_path: Path) -> None:
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        ("hw6/", b""),
        *((f"hw6/{name}", data) for name, data in SOLUTIONS.items()),
        ("hw6/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(100)),
        ("hw6/temperature_data.py", b"# the kit's own file, shipped back\n"),
        ("hw6/tests/test_model.py", b"def test_nothing():\n    pass\n"),
        ("hw6/__pycache__/model.cpython-311.pyc", b"\xa7\r\r\n" + bytes(40)),
        ("__MACOSX/", b""),
        ("__MACOSX/._hw6", b"\x00\x05\x16\x07" + bytes(60)),
        ("__MACOSX/hw6/._model.py", b"\x00\x05\x16\x07 not python at all \xff\xfe"),
        ("hw6/._training.py", b"\x00\x05\x16\x07\x00\x02\x00\x00"),
    ]
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert handin.problems == ()
    assert (handin.directory / "model.py").read_bytes() == SOLUTIONS["model.py"]


def test_zip_slip_entries_are_ignored_and_nothing_lands_outside(tmp_path: Path) -> None:
    evil = b"import os\nos.system('echo owned')\n"
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        *SOLUTIONS.items(),
        ("../../escaped.py", evil),
        ("../model.py", evil),
        ("/tmp/absolute_escape.py", evil),
        ("C:/Users/escape.py", evil),
        ("..\\..\\backslash_escape.py", evil),
    ]
    work = tmp_path / "class" / "submissions"
    work.mkdir(parents=True)
    source = make_zip(work / "alice.zip", entries)

    handin = unpack(tmp_path, source)

    assert handin.files == ALL
    assert (handin.directory / "model.py").read_bytes() == SOLUTIONS["model.py"]
    assert [problem.message for problem in handin.problems] == [
        "alice.zip holds an entry with an unsafe path ('../../escaped.py': it climbs out of the folder with '..'); "
        "it was ignored: zip the files from their own folder",
        "alice.zip holds an entry with an unsafe path ('../model.py': it climbs out of the folder with '..'); "
        "it was ignored: zip the files from their own folder",
        "alice.zip holds an entry with an unsafe path ('/tmp/absolute_escape.py': an absolute path); "
        "it was ignored: zip the files from their own folder",
        "alice.zip holds an entry with an unsafe path ('C:/Users/escape.py': a drive letter); "
        "it was ignored: zip the files from their own folder",
        "alice.zip holds an entry with an unsafe path ('..\\\\..\\\\backslash_escape.py': it climbs out of the "
        "folder with '..'); it was ignored: zip the files from their own folder",
    ]
    for name in ("escaped.py", "absolute_escape.py", "escape.py", "backslash_escape.py"):
        assert not list(tmp_path.rglob(name))
        assert not (tmp_path.parent / name).exists()
    assert not Path("/tmp/absolute_escape.py").exists()


def test_backslash_folders_from_old_windows_tools_are_folders(tmp_path: Path) -> None:
    entries = {f"hw6\\{name}": data for name, data in SOLUTIONS.items()}
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert handin.problems == ()


def test_a_symlink_entry_is_reported_and_not_followed(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("model.py")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    entries = [("activations.py", SOLUTIONS["activations.py"]), (link, b"/etc/passwd"), ("training.py", b"x = 1\n")]

    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ("activations.py", "training.py")
    assert handin.problems == (
        Problem(
            "model.py",
            "model.py in alice.zip is a symbolic link; it was not followed: put the file itself in the zip",
        ),
    )


def test_a_zip_bomb_stops_at_the_size_limit(tmp_path: Path) -> None:
    bomb = b"# " + b"0" * (3 * 1024 * 1024) + b"\n"
    source = make_zip(tmp_path / "alice.zip", {**SOLUTIONS, "model.py": bomb})
    assert source.stat().st_size < 100_000

    handin = unpack(tmp_path, source)

    assert handin.files == ("activations.py", "training.py")
    assert handin.problems == (
        Problem(
            "model.py",
            "model.py in alice.zip unpacks to more than the 1 MB limit for a hand-in; it was not unpacked: "
            "hand in the source file model.py only",
        ),
    )


def test_a_header_that_lies_about_the_size_is_not_believed(tmp_path: Path) -> None:
    bomb = b"x = 0\n" * (600 * 1024)
    source = make_zip(tmp_path / "alice.zip", {"model.py": bomb, "activations.py": SOLUTIONS["activations.py"]})
    source.write_bytes(patch_entry(source.read_bytes(), "model.py", local_at=22, central_at=24, value=100))
    assert zipfile.ZipFile(source).getinfo("model.py").file_size == 100

    handin = unpack(tmp_path, source)

    assert handin.files == ("activations.py",)
    assert handin.problems == (
        Problem(
            "model.py",
            "model.py in alice.zip could not be read (Bad CRC-32 for file 'model.py'): "
            "create the hand-in again and hand it in again",
        ),
        Problem(
            "training.py", "training.py was not handed in: add training.py to your hand-in, next to your other modules"
        ),
    )


def test_too_many_entries_are_not_all_looked_at(tmp_path: Path) -> None:
    data = [(f"data/sample{index}.txt", b"") for index in range(20)]
    source = make_zip(tmp_path / "alice.zip", [*SOLUTIONS.items(), *data])

    handin = unpack(tmp_path, source, limits=IntakeLimits(max_total_mb=1, max_entries=10))

    assert handin.files == ALL
    assert handin.problems == (
        Problem(
            None,
            "alice.zip has more than 10 files besides environments and caches; only the first 10 were looked at: "
            "hand in a zip of activations.py, model.py and training.py",
        ),
    )


def test_a_nested_zip_is_reported_not_unpacked(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("activations.py", SOLUTIONS["activations.py"])
    source = make_zip(tmp_path / "alice.zip", {"model.py": SOLUTIONS["model.py"], "hw6/inner.zip": inner.getvalue()})

    handin = unpack(tmp_path, source)

    assert handin.files == ("model.py",)
    assert handin.problems == (
        Problem(
            None,
            "hw6/inner.zip in alice.zip is an archive inside the hand-in; it was not unpacked: "
            "put activations.py, model.py and training.py themselves in the hand-in",
        ),
        Problem(
            "activations.py",
            "activations.py was not handed in: add activations.py to your hand-in, next to your other modules",
        ),
        Problem(
            "training.py", "training.py was not handed in: add training.py to your hand-in, next to your other modules"
        ),
    )


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "empty file"])
def test_a_damaged_zip_is_one_clear_problem(tmp_path: Path, damage: str) -> None:
    source = make_zip(tmp_path / "alice.zip", SOLUTIONS)
    data = source.read_bytes()
    source.write_bytes({"truncated": data[: len(data) // 2], "not a zip": b"%PDF-1.7\n", "empty file": b""}[damage])

    handin = unpack(tmp_path, source)

    assert handin.files == ()
    assert len(handin.problems) == 1
    assert handin.problems[0].file is None
    assert handin.problems[0].message == (
        "alice.zip is not a readable zip file (it may be truncated, or not a zip at all: File is not a zip file); "
        "create the zip again and hand it in again"
    )


def test_an_encrypted_entry_is_reported(tmp_path: Path) -> None:
    source = make_zip(tmp_path / "alice.zip", SOLUTIONS)
    source.write_bytes(patch_entry(source.read_bytes(), "training.py", local_at=6, central_at=8, value=0x1))

    handin = unpack(tmp_path, source)

    assert handin.files == ("activations.py", "model.py")
    assert handin.problems == (
        Problem(
            "training.py",
            "training.py in alice.zip is password-protected, so it cannot be read: hand in a zip without a password",
        ),
    )


def test_a_huge_unrelated_file_is_ignored_and_reported(tmp_path: Path) -> None:
    entries = {**SOLUTIONS, "data/temperatures.bin": bytes(2 * 1024 * 1024), "data/temperature.csv": b"t_c,t_u\n"}
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert handin.problems == (
        Problem(
            None,
            "data/temperatures.bin in alice.zip is 2.0 MB, over the 1 MB limit for a hand-in; it was ignored: "
            "leave data and large files out of the hand-in",
        ),
    )


def test_duplicate_modules_the_shallowest_wins(tmp_path: Path) -> None:
    entries = {
        "hw6/old/attempt1/model.py": b"class TemperatureNet:\n    pass\n",
        "hw6/model.py": SOLUTIONS["model.py"],
        "hw6/activations.py": SOLUTIONS["activations.py"],
        "hw6/deeper/still/training.py": SOLUTIONS["training.py"],
    }
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert (handin.directory / "model.py").read_bytes() == SOLUTIONS["model.py"]
    assert (handin.directory / "training.py").read_bytes() == SOLUTIONS["training.py"]
    assert handin.problems == (
        Problem(
            "model.py",
            "alice.zip holds 2 files named model.py (hw6/model.py, hw6/old/attempt1/model.py); hw6/model.py was "
            "graded: hand in only one",
        ),
    )


def test_odd_case_names_are_graded_under_the_contract_name(tmp_path: Path) -> None:
    entries = {"Model.PY": SOLUTIONS["model.py"], "activations.py": SOLUTIONS["activations.py"]}
    entries["TRAINING.py"] = SOLUTIONS["training.py"]
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert (handin.directory / "model.py").read_bytes() == SOLUTIONS["model.py"]
    assert handin.problems == (
        Problem(
            "model.py",
            "Model.PY in alice.zip was graded as model.py: Python module names are case-sensitive, "
            "so name the file model.py",
        ),
        Problem(
            "training.py",
            "TRAINING.py in alice.zip was graded as training.py: Python module names are case-sensitive, "
            "so name the file training.py",
        ),
    )


def test_other_python_files_beside_the_modules_are_reported(tmp_path: Path) -> None:
    entries = {
        **SOLUTIONS,
        "helpers.py": b"def clamp(x):\n    return x\n",
        "temperature_data.py": b"",
        "notes.txt": b"",
    }
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ALL
    assert handin.problems == (
        Problem(
            None,
            "helpers.py in alice.zip was ignored: only activations.py, model.py and training.py are graded, "
            "so move any code they need from it into them",
        ),
    )


def test_an_empty_zip_and_a_zip_of_something_else(tmp_path: Path) -> None:
    empty = unpack(tmp_path, make_zip(tmp_path / "alice.zip", {}))
    assert empty.files == ()
    assert empty.problems == (
        Problem(
            None,
            "alice.zip holds no activations.py, model.py or training.py (it holds: nothing): hand in those files, "
            "at the zip's root or in one folder",
        ),
    )

    other = tmp_path / "other"
    other.mkdir()
    source = make_zip(other / "alice.zip", {"report.pdf": b"%PDF-1.7\n", "hw6/ch6.py": b"x = 1\n"})
    wrong = unpack(other, source)
    assert wrong.files == ()
    assert wrong.problems == (
        Problem(
            None,
            "alice.zip holds no activations.py, model.py or training.py (it holds: hw6/ch6.py, report.pdf): "
            "hand in those files, at the zip's root or in one folder",
        ),
    )


def test_a_notebook_inside_a_zip_is_read_for_the_missing_modules(tmp_path: Path) -> None:
    notebook = notebook_bytes(STUBS["activations.py"].decode(), STUBS["training.py"].decode())
    source = make_zip(tmp_path / "alice.zip", {"hw6/model.py": SOLUTIONS["model.py"], "hw6/ch6.ipynb": notebook})

    handin = unpack(tmp_path, source)

    assert handin.files == ALL
    assert handin.problems == ()
    assert (handin.directory / "model.py").read_bytes() == SOLUTIONS["model.py"]
    assert b"def training_loop(" in (handin.directory / "training.py").read_bytes()


# -- sources ---------------------------------------------------------------------------------------------------


def test_a_syntax_error_is_reported_and_the_file_still_written(tmp_path: Path) -> None:
    lines = SOLUTIONS["model.py"].decode().splitlines(keepends=True)
    number = next(index for index, line in enumerate(lines, start=1) if line.startswith("class TemperatureNet"))
    lines[number - 1] = lines[number - 1].replace("):", ")")
    broken = "".join(lines).encode()

    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", {**SOLUTIONS, "model.py": broken}))

    assert handin.files == ALL
    assert (handin.directory / "model.py").read_bytes() == broken
    assert handin.problems == (Problem("model.py", f"model.py: SyntaxError at line {number}: expected ':'"),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "# température en degrés\nx = 1\n".encode("latin-1"),
            "model.py is not UTF-8 text (saved as Latin-1?): save it as UTF-8 in your editor and hand it in again",
        ),
        (
            "x = 1\n".encode("utf-16"),
            "model.py is saved as UTF-16 text: save it as UTF-8 and hand it in again",
        ),
        (
            b"x = 1\n\x00\x00\x00",
            "model.py contains NUL bytes, so it is not a Python source file: hand in the .py file itself",
        ),
    ],
    ids=["latin-1", "utf-16", "nul"],
)
def test_a_source_that_is_not_utf8_text(tmp_path: Path, data: bytes, message: str) -> None:
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", {**SOLUTIONS, "model.py": data}))

    assert handin.files == ALL
    assert (handin.directory / "model.py").read_bytes() == data
    assert handin.problems == (Problem("model.py", message),)


def test_utf8_with_a_bom_and_a_declared_latin1_source_are_fine(tmp_path: Path) -> None:
    with_bom = "\ufeff# température\n".encode() + SOLUTIONS["model.py"]
    declared = "# -*- coding: latin-1 -*-\n# température\nx = 1\n".encode("latin-1")
    handin = unpack(
        tmp_path, make_zip(tmp_path / "alice.zip", {**SOLUTIONS, "model.py": with_bom, "training.py": declared})
    )

    assert handin.files == ALL
    assert handin.problems == ()


def test_a_missing_module(tmp_path: Path) -> None:
    entries = {name: SOLUTIONS[name] for name in ("activations.py", "model.py")}
    handin = unpack(tmp_path, make_zip(tmp_path / "alice.zip", entries))

    assert handin.files == ("activations.py", "model.py")
    assert handin.problems == (
        Problem(
            "training.py", "training.py was not handed in: add training.py to your hand-in, next to your other modules"
        ),
    )


# -- folders ---------------------------------------------------------------------------------------------------


def test_a_folder_hand_in_gets_the_same_rules(tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    (folder / "hw6" / "__pycache__").mkdir(parents=True)
    (folder / "hw6" / "activations.py").write_bytes(SOLUTIONS["activations.py"])
    (folder / "hw6" / "Model.py").write_bytes(SOLUTIONS["model.py"])
    (folder / "hw6" / "__pycache__" / "training.cpython-311.pyc").write_bytes(bytes(20))
    (folder / "hw6" / ".DS_Store").write_bytes(bytes(20))
    (folder / ".git").mkdir()
    (folder / ".git" / "training.py").write_bytes(b"x = 1\n")

    handin = unpack(tmp_path, folder)

    assert handin.files == ("activations.py", "model.py")
    assert handin.problems == (
        Problem(
            "model.py",
            "hw6/Model.py in alice/ was graded as model.py: Python module names are case-sensitive, "
            "so name the file model.py",
        ),
        Problem(
            "training.py", "training.py was not handed in: add training.py to your hand-in, next to your other modules"
        ),
        Problem(
            None,
            "alice/: skipped without reading: version control: .git/. Only activations.py, model.py and training.py "
            "are graded; `python handin.py` in your folder makes a zip of just those",
        ),
    )


def test_symlinks_and_special_files_in_a_folder_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "instructor" / "graders"
    secret.mkdir(parents=True)
    (secret / "model.py").write_bytes(b"HIDDEN_EXPECTED = 42\n")
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "activations.py").write_bytes(SOLUTIONS["activations.py"])
    (folder / "model.py").symlink_to(secret / "model.py")
    (folder / "graders").symlink_to(secret, target_is_directory=True)
    os.mkfifo(folder / "training.py")

    handin = unpack(tmp_path, folder)

    assert handin.files == ("activations.py",)
    assert handin.problems == (
        Problem(None, "alice/graders is a symbolic link; it was not followed: hand in the file itself"),
        Problem("model.py", "alice/model.py is a symbolic link; it was not followed: hand in the file itself"),
        Problem("training.py", "alice/training.py is not a regular file; it was ignored"),
    )


def test_a_huge_file_in_a_folder_is_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    for name, data in SOLUTIONS.items():
        (folder / name).write_bytes(data)
    with open(folder / "checkpoint.pt", "wb") as sparse:
        sparse.truncate(64 * 1024**3)  # sparse: reading it would take minutes

    handin = unpack(tmp_path, folder)

    assert handin.files == ALL
    assert handin.problems == (
        Problem(
            None,
            "checkpoint.pt in alice/ is 65536.0 MB, over the 1 MB limit for a hand-in; it was ignored: "
            "leave data and large files out of the hand-in",
        ),
    )


def test_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    handin = unpack(tmp_path, tmp_path / "alice")

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            "alice/ holds no activations.py, model.py or training.py (it holds: nothing): hand in those files, "
            "at the zip's root or in one folder",
        ),
    )


def test_the_destination_must_be_fresh(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "model.py").write_text("x = 1\n")
    with pytest.raises(FileExistsError, match="is not empty"):
        unpack_handin(
            student_id="alice",
            source=make_zip(tmp_path / "alice.zip", SOLUTIONS),
            dest_dir=dest,
            course=COURSE,
            limits=LIMITS,
        )


# -- notebooks -------------------------------------------------------------------------------------------------


def test_a_notebook_becomes_the_modules_it_defines(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(
        notebook_bytes(
            "%matplotlib inline\n!pip install torch\nimport torch\nfrom torch import nn",
            SOLUTIONS["activations.py"].decode(),
            "%%time\nx = torch.linspace(-3, 3, 7)\nprint(relu(x))",
            "%%bash\nls -l | wc -l",
            SOLUTIONS["model.py"].decode(),
            "for step in range(2):\n    %time relu(x)",
            "model = TemperatureNet(\nprint(model)",
        )
    )

    handin = unpack(tmp_path, source)

    assert handin.files == ("activations.py", "model.py")
    assert handin.problems == (
        Problem(
            None,
            "alice.ipynb, code cell 8 (starting `model = TemperatureNet(`): SyntaxError at line 1: "
            "'(' was never closed; the cell was left out: fix it, run the notebook from the top and hand it in again",
        ),
        Problem(
            "training.py",
            "training.py was not handed in: alice.ipynb defines none of split_indices, training_loop, plot_fit",
        ),
    )
    written = (handin.directory / "model.py").read_text()
    assert written == (handin.directory / "activations.py").read_text()
    compile(written, "model.py", "exec")
    assert "# %% code cell 2\n# %matplotlib inline\n# !pip install torch\nimport torch\n" in written
    assert "# %% code cell 4\n# %%time\nx = torch.linspace(-3, 3, 7)\n" in written
    assert "# %% code cell 5\n# %%bash\n# ls -l | wc -l\n" in written
    assert "for step in range(2):\n    pass  # %time relu(x)\n" in written
    assert "# %% code cell 8\n# model = TemperatureNet(\n# print(model)\n" in written


def test_an_nbgrader_release_notebook_is_fine(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes(*(STUBS[name].decode() for name in MODULE_FILES)))
    assert b"NotImplementedError" in source.read_bytes()

    handin = unpack(tmp_path, source)

    assert handin.files == ALL
    assert handin.problems == ()


def test_nbgrader_test_cells_are_not_run(tmp_path: Path) -> None:
    notebook = json.loads(notebook_bytes(SOLUTIONS["activations.py"].decode(), STUBS["training.py"].decode()))
    test_cell = nbformat.v4.new_code_cell(
        "assert torch.equal(relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))\n"
        "assert split_indices(10)[0].numel() == 8"
    )
    test_cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t1"}
    notebook["cells"].append(test_cell)
    source = tmp_path / "alice.ipynb"
    source.write_text(json.dumps(notebook))

    handin = unpack(tmp_path, source)

    assert handin.files == ("activations.py", "training.py")
    assert handin.problems == (
        Problem("model.py", "model.py was not handed in: alice.ipynb defines none of TemperatureNet, count_parameters"),
    )
    written = (handin.directory / "training.py").read_text()
    assert written.endswith(
        "# %% code cell 4 (nbgrader test cell, not run)\n"
        "# assert torch.equal(relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))\n"
        "# assert split_indices(10)[0].numel() == 8\n"
    )


def test_a_broken_cell_that_defines_a_contract_name_is_blamed_on_its_module(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("import torch", "def count_parameters(model)\n    return 0"))

    handin = unpack(tmp_path, source)

    assert handin.files == ("model.py",)
    assert handin.problems[0] == Problem(
        "model.py",
        "alice.ipynb, code cell 3 (starting `def count_parameters(model)`): SyntaxError at line 1: expected ':'; "
        "the cell was left out: fix it, run the notebook from the top and hand it in again",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"cells": [{"cell_type": "code", "source": "def relu(x',
            "alice.ipynb is not valid JSON (is it truncated?): save the notebook from Jupyter again",
        ),
        (b'{"hello": "world"}', "alice.ipynb is not a Jupyter notebook ("),
        (b"[1, 2, 3]", "alice.ipynb is not a Jupyter notebook ("),
        (
            "def relu(x):\n    return x  # é\n".encode("latin-1"),
            "alice.ipynb is not UTF-8 text, so it is not a notebook",
        ),
    ],
    ids=["truncated", "other-json", "json-list", "latin-1"],
)
def test_a_notebook_that_is_not_a_notebook(tmp_path: Path, data: bytes, message: str) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(data)

    handin = unpack(tmp_path, source)

    assert handin.files == ()
    assert len(handin.problems) == 1
    assert handin.problems[0].file is None
    assert handin.problems[0].message.startswith(message)


def test_a_notebook_that_fails_validation_is_reported_and_still_read() -> None:
    notebook = json.loads(notebook_bytes("def relu(x):\n    return x"))
    del notebook["cells"][1]["outputs"]

    code, problems = notebook_code(json.dumps(notebook).encode(), label="alice.ipynb", contract=COURSE.contract)

    assert code is not None
    assert code.defined_names == {"relu"}
    assert problems == [
        Problem(
            None,
            "alice.ipynb is not a valid Jupyter notebook ('outputs' is a required property): "
            "open it in Jupyter, save it and hand it in again",
        )
    ]


def test_a_notebook_defining_nothing_is_one_problem(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("import torch\nfrom torch.nn.functional import relu\nprint(relu)"))

    handin = unpack(tmp_path, source)

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            "alice.ipynb defines none of tanh, sigmoid, relu, leaky_relu, hardtanh, softplus, TemperatureNet, "
            "count_parameters, split_indices, training_loop, plot_fit: write your code in the notebook's code "
            "cells, keeping those names",
        ),
    )


# -- the class folder --------------------------------------------------------------------------------------------


def test_discover_handins_finds_one_entry_per_student(tmp_path: Path) -> None:
    make_zip(tmp_path / "carol.zip", SOLUTIONS)
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob.smith.ipynb").write_bytes(notebook_bytes("x = 1"))
    (tmp_path / "dave.ZIP").write_bytes(b"")
    for stray in (".DS_Store", "late.csv", "README.txt", "~$grades.xlsx"):
        (tmp_path / stray).write_bytes(b"")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "erin.zip").symlink_to(tmp_path / "carol.zip")

    entries, skipped = discover_handins(submissions_dir=tmp_path)

    assert entries == [
        ("alice", tmp_path / "alice"),
        ("bob.smith", tmp_path / "bob.smith.ipynb"),
        ("carol", tmp_path / "carol.zip"),
        ("dave", tmp_path / "dave.ZIP"),
    ]
    assert sorted(path.name for path in skipped) == [
        ".DS_Store",
        "README.txt",
        "__MACOSX",
        "erin.zip",
        "late.csv",
        "~$grades.xlsx",
    ]


def test_two_hand_ins_for_one_student_is_a_clear_error(tmp_path: Path) -> None:
    make_zip(tmp_path / "alice.zip", SOLUTIONS)
    (tmp_path / "alice").mkdir()
    (tmp_path / "Bob.ipynb").write_bytes(notebook_bytes("x = 1"))
    make_zip(tmp_path / "bob.zip", SOLUTIONS)

    with pytest.raises(HandinConflictError) as raised:
        discover_handins(submissions_dir=tmp_path)

    assert str(raised.value) == (
        f"{tmp_path}: more than one hand-in for the same student: alice/ and alice.zip; Bob.ipynb and bob.zip. "
        "Keep one hand-in per student and grade again."
    )


OPS_COURSE = parse_course(
    """
title: A small course
book: {title: A book, authors: Someone, chapter: 1, chapter_title: Operations}
assignment:
  id: ops
  title: Operations
  parts:
    - id: ops
      title: Operations
      file: ops.py
      points: 10
      exercises: [{id: "1.1", name: square, title: Squares}, {id: "1.2", name: cube, title: Cubes}]
    - id: loop
      title: A loop
      file: loop.py
      points: 10
      exercises: [{id: "2.1", name: repeat, title: Repeating}]
given: [data/loader.py]
limits: {time_seconds: 10, memory_mb: 512, processes: 8, output_kb: 1, file_size_mb: 1, open_files: 32}
intake: {max_total_mb: 1, max_entries: 50}
"""
)


def test_the_contract_and_the_messages_are_the_course_s(tmp_path: Path) -> None:
    source = make_zip(
        tmp_path / "alice.zip",
        {
            "hw/OPS.py": b"def square(x):\n    return x * x\n",
            "hw/loader.py": b"# the course's own file, shipped back\n",
            "hw/helpers.py": b"",
            "hw/activations.py": b"def relu(x):\n    return x\n",
        },
    )

    handin = unpack(tmp_path, source, course=OPS_COURSE)

    assert handin.files == ("ops.py",)
    assert handin.problems == (
        Problem(
            "ops.py",
            "hw/OPS.py in alice.zip was graded as ops.py: Python module names are case-sensitive, so name the file ops.py",
        ),
        Problem(
            None,
            "hw/helpers.py in alice.zip was ignored: only ops.py and loop.py are graded, so move any code they "
            "need from it into them",
        ),
        Problem(
            None,
            "hw/activations.py in alice.zip was ignored: only ops.py and loop.py are graded, so move any code they "
            "need from it into them",
        ),
        Problem("loop.py", "loop.py was not handed in: add loop.py to your hand-in, next to your other modules"),
    )


def test_a_notebook_for_another_course_is_cut_along_its_contract(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("def repeat(x):\n    return x", "def relu(x):\n    return x"))

    handin = unpack(tmp_path, source, course=OPS_COURSE)

    assert handin.files == ("loop.py",)
    assert handin.problems == (Problem("ops.py", "ops.py was not handed in: alice.ipynb defines none of square, cube"),)
    empty = make_zip(tmp_path / "bob.zip", {"notes.txt": b""})
    assert unpack_handin(
        student_id="bob", source=empty, dest_dir=tmp_path / "bob", course=OPS_COURSE, limits=LIMITS
    ).problems == (
        Problem(
            None,
            "bob.zip holds no ops.py or loop.py (it holds: notes.txt): hand in those files, at the zip's root or in "
            "one folder",
        ),
    )


def test_a_zip_larger_than_the_limit_is_graded_from_its_modules_and_its_large_file_ignored(tmp_path: Path) -> None:
    # The budget bounds what intake reads, not the zip's size: the listing and the modules are read, nothing else.
    source = tmp_path / "alice.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in SOLUTIONS.items():
            archive.writestr(name, data)
        archive.writestr("data/weights.bin", os.urandom(1024 * 1024 + 1))
    assert source.stat().st_size > 1024 * 1024

    handin = unpack(tmp_path, source)

    assert handin.files == ALL
    assert handin.problems == (
        Problem(
            None,
            "data/weights.bin in alice.zip is 1.1 MB, over the 1 MB limit for a hand-in; it was ignored: leave data "
            "and large files out of the hand-in",
        ),
    )


def test_a_notebook_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(
        notebook_bytes("def relu(x):\n    return x", markdown="![plot](data:image/png;base64," + "A" * 1024 * 1024)
    )

    handin = unpack(tmp_path, source)

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            "alice.ipynb is 1.1 MB, over the 1 MB limit for a hand-in: clear the notebook's outputs "
            "(Edit > Clear All Outputs), save it and hand it in again",
        ),
    )


# -- bounds on the work of one hand-in ------------------------------------------------------------------------

# course.yml's limits: the size limit alone lets a notebook hold 100,000 cells.
COURSE_LIMITS = COURSE.intake


def many_cells_notebook(count: int) -> bytes:
    """A valid notebook of nbformat's own cells: `count` one-line code cells, then one that defines relu."""
    cell = nbformat.v4.new_code_cell()  # copied, not made anew: nbformat validates every cell it makes
    cells = [{**cell, "id": f"cell-{number}", "source": f"x{number} = {number}"} for number in range(count)]
    notebook = nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell("def relu(x):\n    return x")])
    return json.dumps(notebook).encode()  # what nbformat.writes writes, without validating 100,000 cells


def test_the_many_cells_notebook_is_a_valid_notebook() -> None:
    nbformat.validate(nbformat.reads(many_cells_notebook(1_000).decode(), as_version=4))


def test_a_notebook_of_100000_cells_is_refused_quickly(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(many_cells_notebook(100_000))
    assert source.stat().st_size < COURSE_LIMITS.max_total_mb * 1024 * 1024

    # CPU time, not wall time: what intake spends, whatever else the machine runs meanwhile.
    start = time.process_time()
    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)
    elapsed = time.process_time() - start

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            f"alice.ipynb has 100,001 cells, more than the {MAX_NOTEBOOK_CELLS:,} a notebook may have; it was not "
            "read: delete the cells you do not need (or copy your code into a fresh notebook), save it and hand it "
            "in again",
        ),
    )
    # 0.42 s of CPU on an idle 2-core machine, 1.1 s with both cores busy with other work; reading every cell
    # (what the limit prevents) costs minutes.
    assert elapsed < 3, f"refusing a 100,000-cell notebook took {elapsed:.2f} s"


def test_a_refused_notebook_in_a_zip_leaves_the_rest_graded(tmp_path: Path) -> None:
    source = make_zip(
        tmp_path / "alice.zip",
        {"hw6/model.py": SOLUTIONS["model.py"], "hw6/ch6.ipynb": many_cells_notebook(MAX_NOTEBOOK_CELLS)},
    )

    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert handin.files == ("model.py",)
    assert handin.problems == (
        Problem(
            None,
            f"hw6/ch6.ipynb in alice.zip has 2,001 cells, more than the {MAX_NOTEBOOK_CELLS:,} a notebook may have; "
            "it was not read: delete the cells you do not need (or copy your code into a fresh notebook), save it "
            "and hand it in again",
        ),
        Problem(
            "activations.py",
            "activations.py was not handed in: add activations.py to your hand-in, next to your other modules",
        ),
        Problem(
            "training.py", "training.py was not handed in: add training.py to your hand-in, next to your other modules"
        ),
    )


def test_a_notebook_at_the_cell_limit_is_read(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(many_cells_notebook(MAX_NOTEBOOK_CELLS - 1))

    start = time.process_time()
    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert time.process_time() - start < 2
    assert handin.files == ("activations.py",)


def test_a_notebook_with_too_many_outputs_is_refused(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("def relu(x):\n    return x")
    cell.outputs = [nbformat.v4.new_output("stream", text="")] * (MAX_NOTEBOOK_OUTPUTS + 1)
    source = tmp_path / "alice.ipynb"
    source.write_text(json.dumps(nbformat.v4.new_notebook(cells=[cell])))

    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            f"alice.ipynb has 10,001 cell outputs, more than the {MAX_NOTEBOOK_OUTPUTS:,} a notebook may have; it was "
            "not read: clear the notebook's outputs (Edit > Clear All Outputs), save it and hand it in again",
        ),
    )


def test_a_notebook_with_too_much_code_is_refused(tmp_path: Path) -> None:
    pasted = "data = [" + ", ".join(["0.5"] * (MAX_SOURCE_BYTES // 5)) + "]"
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("def relu(x):\n    return x", pasted))

    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert handin.files == ()
    assert handin.problems == (
        Problem(
            None,
            "alice.ipynb holds 0.6 MB of code, more than the 512 KB a hand-in's code may be; it was not read: keep "
            "data and generated code out of the notebook's cells, save it and hand it in again",
        ),
    )


def test_a_module_over_the_source_limit_is_not_graded_and_the_others_are(tmp_path: Path) -> None:
    huge = SOLUTIONS["activations.py"] + b"\nTABLE = [" + b"0.5, " * (MAX_SOURCE_BYTES // 5) + b"]\n"
    source = make_zip(tmp_path / "alice.zip", {**SOLUTIONS, "activations.py": huge})

    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert handin.files == ("model.py", "training.py")
    assert handin.problems == (
        Problem(
            "activations.py",
            "activations.py in alice.zip is 0.6 MB, more than the 512 KB a Python module may be; it was not graded: "
            "keep data and generated code out of activations.py",
        ),
    )


def test_many_broken_cells_are_named_up_to_a_limit_then_counted(tmp_path: Path) -> None:
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("def relu(x):\n    return x", *(f"y{number} = (" for number in range(30))))

    handin = unpack(tmp_path, source)

    named = [problem for problem in handin.problems if "SyntaxError" in problem.message]
    assert len(named) == MAX_CELL_PROBLEMS_NAMED
    assert (
        Problem(
            None,
            f"alice.ipynb: {30 - MAX_CELL_PROBLEMS_NAMED} more code cells do not parse and were left out: fix them, run "
            "the notebook from the top and hand it in again",
        )
        in handin.problems
    )
    assert handin.files == ("activations.py",)


def test_a_broken_cell_of_blank_lines_is_read_in_linear_time(tmp_path: Path) -> None:
    # An unclosed bracket then 200,000 blank lines: a pattern that let indentation span lines took minutes.
    source = tmp_path / "alice.ipynb"
    source.write_bytes(notebook_bytes("def relu(x):\n    return x", "values = (" + "\n" * 200_000))

    start = time.process_time()
    handin = unpack(tmp_path, source, limits=COURSE_LIMITS)

    assert time.process_time() - start < 1
    assert handin.files == ("activations.py",)
    assert any(
        "code cell 3" in problem.message and "was never closed" in problem.message for problem in handin.problems
    )


def test_the_release_notebook_is_well_inside_the_bounds() -> None:
    from coursekit.author.notebook import build_notebook, filled_notebook

    filled = filled_notebook(build_notebook(course_dir=ROOT, with_solutions=False), course_dir=ROOT)
    code = sum(len(cell.source.encode()) for cell in filled.cells if cell.cell_type == "code")
    # 41 cells since the notebook ends with the exercises put together: 48x headroom.
    assert len(filled.cells) * 40 <= MAX_NOTEBOOK_CELLS
    # 52 KB of code since the test cells show the public tests: 10x headroom.
    assert code * 8 <= MAX_SOURCE_BYTES
    assert max(len(source) for source in SOLUTIONS.values()) * 150 <= MAX_SOURCE_BYTES


def test_a_file_that_is_no_hand_in(tmp_path: Path) -> None:
    source = tmp_path / "alice.rar"
    source.write_bytes(b"Rar!\x1a\x07\x00")

    handin = unpack(tmp_path, source)

    assert handin.files == ()
    assert handin.problems == (
        Problem(None, "alice.rar is not a hand-in: hand in a .zip, a folder or a .ipynb notebook holding your modules"),
    )
