"""Reading archives and folders that a student or an LMS made, without trusting them: the kit's one set of rules.

Both readers of untrusted trees use these rules: `coursekit.intake.collect` (an LMS bulk download, and the zips
in it) and `coursekit.intake.handin` (one student's hand-in). A name is never trusted as a path until
`unsafe_path_reason` clears it, and then only as the parts `path_parts` gives; a symbolic link is never followed;
a size declared by a zip header or by `stat` is never a bound on a read (`read_bounded` and `copy_bounded` count
what actually comes out); operating-system litter (`is_system_file`) is never part of a hand-in.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

# Files and folders an operating system leaves in archives and folders it makes, compared case-insensitively
# (macOS and Windows file systems ignore case): Finder's .DS_Store and __MACOSX resource forks, Explorer's
# Thumbs.db and desktop.ini, the "Icon\r" of a folder with a custom icon. AppleDouble files start with "._".
SYSTEM_FILE_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "icon\r"})
SYSTEM_FOLDER_NAMES = frozenset({"__macosx"})
APPLE_DOUBLE_PREFIX = "._"

CHUNK_BYTES = 64 * 1024

# Windows reads "C:" at the start of any component as a drive, making the rest of the path absolute.
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# Old Windows zip tools write "\" between folders; Windows reads it as a separator wherever it stands.
_SEPARATORS = re.compile(r"[/\\]")


class SizeLimitExceeded(Exception):
    """A read went past its byte limit; what was read so far is discarded."""


@dataclass(frozen=True)
class Member:
    """One regular file of an archive or folder, not yet read."""

    parts: tuple[str, ...]
    """Its path, split by `path_parts`: never empty, never holding ``..``."""
    size: int
    """As declared (zip header or stat): used only to skip files early, never to bound a read."""
    open: Callable[[], IO[bytes]]
    encrypted: bool = False

    @property
    def path(self) -> str:
        return "/".join(self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1]


def unsafe_path_reason(name: str) -> str | None:
    """Why `name`, a path from an archive or a download, could reach outside the folder it is unpacked into; None
    when it cannot.

    Both ``/`` and ``\\`` separate folders, as they do on Windows; refused are NUL characters, absolute paths, a
    drive letter in any component, ``..`` and names with no component at all.
    """
    if "\x00" in name:
        return "a NUL character"
    if name.startswith(("/", "\\")):
        return "an absolute path"
    components = _SEPARATORS.split(name)
    if any(_DRIVE_LETTER.match(component) for component in components):
        return "a drive letter"
    if ".." in components:
        return "it climbs out of the folder with '..'"
    if not path_parts(name):
        return "an empty name"
    return None


def path_parts(name: str) -> tuple[str, ...]:
    """The components of a path that `unsafe_path_reason` cleared: split at ``/`` and ``\\``, empty and ``.``
    components dropped (``hw6\\ops.py`` and ``./hw6//ops.py`` are both ``("hw6", "ops.py")``)."""
    return tuple(part for part in _SEPARATORS.split(name) if part not in ("", "."))


def is_system_file(parts: tuple[str, ...]) -> bool:
    """Operating-system metadata (a .DS_Store, anything under __MACOSX, an AppleDouble ``._`` file): never part of
    a hand-in."""
    name = parts[-1]
    return (
        name.lower() in SYSTEM_FILE_NAMES
        or name.startswith(APPLE_DOUBLE_PREFIX)
        or any(part.lower() in SYSTEM_FOLDER_NAMES for part in parts)
    )


def is_folder_entry(info: zipfile.ZipInfo) -> bool:
    """A zip entry that only names a folder (``hw6/``, or ``hw6\\`` from old Windows tools)."""
    return info.filename.endswith(("/", "\\"))


def is_symlink_entry(info: zipfile.ZipInfo) -> bool:
    """A zip entry that unpacks to a symbolic link (Unix mode bits in the high half of external_attr)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def is_encrypted_entry(info: zipfile.ZipInfo) -> bool:
    """A password-protected zip entry, which the kit never tries to read."""
    return bool(info.flag_bits & 0x1)


def zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    """A zip entry that `unsafe_path_reason` cleared and that is no link, as a `Member`."""

    def open_entry() -> IO[bytes]:
        return archive.open(info, "r")

    return Member(
        parts=path_parts(info.filename),
        size=info.file_size,
        open=open_entry,
        encrypted=is_encrypted_entry(info),
    )


def open_regular_file(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading, refusing a link or anything that is not a regular file (a FIFO would block)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(f"{os.path.basename(path)} is not a regular file")
    return os.fdopen(descriptor, "rb")


def read_bounded(stream: IO[bytes], limit: int) -> bytes:
    """All of `stream`, read in chunks; `SizeLimitExceeded` as soon as more than `limit` bytes come out."""
    chunks = []
    left = limit
    while chunk := stream.read(min(CHUNK_BYTES, left + 1)):
        if len(chunk) > left:
            raise SizeLimitExceeded
        left -= len(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


def copy_bounded(reader: IO[bytes], writer: IO[bytes], limit: int) -> int:
    """Copy `reader` to `writer` in chunks and return the bytes copied; `SizeLimitExceeded` (with at most `limit`
    bytes written) as soon as more than `limit` come out."""
    copied = 0
    while chunk := reader.read(min(CHUNK_BYTES, limit - copied + 1)):
        if copied + len(chunk) > limit:
            raise SizeLimitExceeded
        writer.write(chunk)
        copied += len(chunk)
    return copied
