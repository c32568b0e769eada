"""The one set of rules for untrusted archives and folders (coursekit.intake.archives), which collecting a
download and unpacking a hand-in both follow."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from coursekit.intake.archives import (
    SizeLimitExceeded,
    copy_bounded,
    is_encrypted_entry,
    is_folder_entry,
    is_symlink_entry,
    is_system_file,
    open_regular_file,
    path_parts,
    read_bounded,
    unsafe_path_reason,
)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../evil.py", "it climbs out of the folder with '..'"),
        ("a/../../evil.py", "it climbs out of the folder with '..'"),
        ("a\\..\\evil.py", "it climbs out of the folder with '..'"),
        ("..", "it climbs out of the folder with '..'"),
        ("/etc/passwd", "an absolute path"),
        ("\\Windows\\evil.py", "an absolute path"),
        ("C:/evil.py", "a drive letter"),
        ("C:evil.py", "a drive letter"),
        # Windows reads a drive in any component: "a/C:/x" is C:/x.
        ("Jane Doe_1_assignsubmission_file_/C:/escape.py", "a drive letter"),
        ("a\0b", "a NUL character"),
        ("", "an empty name"),
        ("./", "an empty name"),
    ],
)
def test_unsafe_paths_are_named(path: str, reason: str) -> None:
    assert unsafe_path_reason(path) == reason


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("ch6/ops.py", ("ch6", "ops.py")),
        ("Jane Doe_1_assignsubmission_file_/ops.py", ("Jane Doe_1_assignsubmission_file_", "ops.py")),
        # Old Windows zip tools write backslashes between folders.
        ("hw6\\ops.py", ("hw6", "ops.py")),
        ("./hw6//ops.py", ("hw6", "ops.py")),
        ("notes..txt", ("notes..txt",)),
    ],
)
def test_safe_paths_split_into_their_parts(path: str, parts: tuple[str, ...]) -> None:
    assert unsafe_path_reason(path) is None
    assert path_parts(path) == parts


@pytest.mark.parametrize(
    ("parts", "system"),
    [
        (("hw6", ".DS_Store"), True),
        (("Thumbs.db",), True),
        (("hw6", "desktop.ini"), True),
        (("__MACOSX", "hw6", "ops.py"), True),
        (("hw6", "._ops.py"), True),
        (("hw6", "ops.py"), False),
        (("hw6", ".gitignore"), False),
    ],
)
def test_system_files_are_recognised_in_any_case(parts: tuple[str, ...], system: bool) -> None:
    assert is_system_file(parts) is system
    assert is_system_file(tuple(part.upper() for part in parts[:-1]) + parts[-1:]) is system


def test_zip_entry_kinds() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hw6/", b"")
        archive.writestr("hw6\\", b"")
        link = zipfile.ZipInfo("hw6/ops.py")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, b"/etc/passwd")
        archive.writestr("hw6/plain.py", b"x = 1\n")
    with zipfile.ZipFile(buffer) as archive:
        folder, windows_folder, symlink, plain = archive.infolist()
    assert is_folder_entry(folder) and is_folder_entry(windows_folder) and not is_folder_entry(plain)
    assert is_symlink_entry(symlink) and not is_symlink_entry(plain)
    assert not is_encrypted_entry(plain)
    plain.flag_bits |= 0x1
    assert is_encrypted_entry(plain)


def test_reads_are_bounded_by_what_comes_out() -> None:
    assert read_bounded(io.BytesIO(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(SizeLimitExceeded):
        read_bounded(io.BytesIO(b"x" * 101), 100)
    written = io.BytesIO()
    assert copy_bounded(io.BytesIO(b"y" * 200_000), written, 200_000) == 200_000
    written = io.BytesIO()
    with pytest.raises(SizeLimitExceeded):
        copy_bounded(io.BytesIO(b"y" * 200_001), written, 200_000)
    assert len(written.getvalue()) <= 200_000


def test_only_regular_files_are_opened(tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_bytes(b"x = 1\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "ops.py")
    os.mkfifo(tmp_path / "pipe")
    with open_regular_file(tmp_path / "ops.py") as stream:
        assert stream.read() == b"x = 1\n"
    with pytest.raises(OSError):
        open_regular_file(tmp_path / "link.py")
    with pytest.raises(OSError, match="not a regular file"):
        open_regular_file(tmp_path / "pipe")
