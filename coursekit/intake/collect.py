"""Collecting: `collect_download` turns a Canvas or Moodle bulk download into the hand-ins folder that
``coursekit grade`` reads (one entry per student, and late.csv). The way back, grades into the LMS, is
`coursekit.export.lms`.

The download is read with the rules of `coursekit.intake.archives`, as one student's hand-in is.

Bulk-download names, as the LMSs write them:

- Canvas ("Download Submissions", ``lib/content_zipper.rb``): one flat zip of files named
  ``<sortable name>[_LATE]_<user id>_<file id>_<file name>``, e.g. ``doejane_LATE_12345_67890_ops.py``; the
  sortable name is lower-cased with everything but letters, digits and ``_`` removed; older Canvas wrote ``_late``.
  Anonymous grading replaces the name and id by ``anon_<anonymous id>``. Text entries and URLs come as
  ``<prefix>_<user id>_text.html`` and ``..._link.html``. When a student uploads a file whose name is already in
  their files, Canvas adds a counter to it (``ops-1.py``); `collect_download` strips a ``-1`` .. ``-999`` counter
  before the extension, so the grader finds ``ops.py``.
- Moodle ("Download all submissions", ``mod/assign/locallib.php``): with "Download submissions in folders" (the
  default since Moodle 3.1) one folder per student and plugin, ``Full Name_<participant id>_assignsubmission_file_``
  (or ``_assignsubmission_onlinetext_``), holding the files with their sub-folders; without it, flat files
  ``Full Name_<participant id>_assignsubmission_file_<file name>``. Moodle replaces ``_`` in names by spaces, so the
  first ``_`` ends the name. The participant id is Moodle's per-assignment id, not the user id. Moodle's names
  carry no late flag: the assignment's offline grading worksheet (coursekit.intake.worksheet) says how late each
  participant handed in, and `collect_download` takes it from there.

late.csv beside the collected hand-ins (columns student, late, days_late) keeps what the LMS said: Canvas's names
say only whether a hand-in is late (days_late empty, so a late policy counts one day; an instructor may fill in the
days Canvas's gradebook shows), Moodle's worksheet says by how much (days_late, whole days begun).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from coursekit.errors import CoursekitError
from coursekit.intake.archives import (
    Member,
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
    zip_member,
)
from coursekit.intake.roster import LmsName, Roster

if TYPE_CHECKING:
    from coursekit.intake.worksheet import MoodleWorksheet

# Beside the collected hand-ins: student, late (0/1), days_late per entry, from Canvas's names or Moodle's worksheet.
LATE_CSV = "late.csv"
# The per-student cap guards the disk against a zip bomb in the download; course.yml's intake limits still apply
# when the hand-in is graded.
DEFAULT_MAX_ENTRY_BYTES = 64 * 1024 * 1024
ENTRY_FILE_SUFFIXES = (".zip", ".ipynb")

_DIGITS = re.compile(r"^[0-9]+$")
_ANONYMOUS_ID = re.compile(r"^[A-Za-z0-9]+$")
_CANVAS_COUNTER = re.compile(r"^(?P<stem>.+?)-[0-9]{1,3}(?P<suffix>\.[A-Za-z0-9]+)?$")
_CANVAS_ONLINE_ENTRIES = ("text.html", "link.html")
_MOODLE_PREFIX = re.compile(
    r"^(?P<name>[^_/]*)_(?P<participant_id>[0-9]+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<rest>.*)$"
)


class CollectError(CoursekitError, ValueError):
    """The download cannot be read, or `out_dir` is not a fresh folder."""


# ---------------------------------------------------------------------------------------------------------------
# Parsing the LMSs' file names


@dataclass(frozen=True)
class CanvasFileName:
    """One file of a Canvas bulk download, as its name describes it."""

    sortable_name: str
    late: bool
    user_id: str
    file_id: int
    original_name: str
    file_name: str


@dataclass(frozen=True)
class MoodleFileName:
    """One file of a Moodle bulk download: the student's part of the path, and the file's path below it."""

    full_name: str
    participant_id: str
    plugin: str
    file_path: str


def parse_canvas_file_name(name: str) -> CanvasFileName | None:
    """Split a Canvas bulk-download file name; None when it is not one.

    The user id is the first ``_<digits>_`` that is followed by a file id (or by ``text.html`` / ``link.html``), the
    rule Canvas itself uses to read names back; Canvas removes ``_<digits>_`` from sortable names for that reason.
    ``file_name`` is the original name without the counter Canvas adds to re-uploaded files.
    """
    tokens = name.split("_")
    for index, token in enumerate(tokens):
        if _DIGITS.match(token):
            user_id, rest_start = token, index + 1
        elif token == "anon" and index + 1 < len(tokens) and _ANONYMOUS_ID.match(tokens[index + 1]):
            user_id, rest_start = f"anon_{tokens[index + 1]}", index + 2
        else:
            continue
        rest = tokens[rest_start:]
        if len(rest) >= 2 and _DIGITS.match(rest[0]) and "_".join(rest[1:]):
            file_id, original_name = int(rest[0]), "_".join(rest[1:])
        elif "_".join(rest) in _CANVAS_ONLINE_ENTRIES:
            file_id, original_name = 0, "_".join(rest)
        else:
            continue
        prefix = tokens[:index]
        late = bool(prefix) and prefix[-1].lower() == "late"
        if late:
            prefix = prefix[:-1]
        return CanvasFileName(
            sortable_name="_".join(prefix),
            late=late,
            user_id=user_id,
            file_id=file_id,
            original_name=original_name,
            file_name=strip_canvas_counter(original_name),
        )
    return None


def strip_canvas_counter(file_name: str) -> str:
    """``ops-1.py`` -> ``ops.py``: undo the counter Canvas adds when a student re-uploads a file name."""
    match = _CANVAS_COUNTER.match(file_name)
    if match is None:
        return file_name
    return match["stem"] + (match["suffix"] or "")


def parse_moodle_path(path: str) -> MoodleFileName | None:
    """Split a path of a Moodle bulk download (folder or flat form); None when it is not one."""
    head, _, below = path.partition("/")
    match = _MOODLE_PREFIX.match(head)
    if match is None:
        return None
    if below:
        # Folder form: the folder name ends right after the plugin.
        if match["rest"]:
            return None
        file_path = below
    else:
        if not match["rest"]:
            return None
        file_path = match["rest"]
    return MoodleFileName(
        full_name=match["name"],
        participant_id=match["participant_id"],
        plugin=match["plugin"],
        file_path=file_path,
    )


# ---------------------------------------------------------------------------------------------------------------
# Reading a download (a folder or a zip) without trusting its names


@dataclass(frozen=True)
class SkippedFile:
    """A file of the download that is not in `out_dir`, and why."""

    path: str
    reason: str


def _read_zip(archive: zipfile.ZipFile, *, label: str) -> tuple[list[Member], list[SkippedFile]]:
    files: list[Member] = []
    rejected: list[SkippedFile] = []
    for info in archive.infolist():
        if is_folder_entry(info):
            continue
        reason = unsafe_path_reason(info.filename)
        if reason is None and is_symlink_entry(info):
            reason = "symbolic link"
        if reason is None and is_encrypted_entry(info):
            reason = "encrypted zip member"
        if reason is not None:
            rejected.append(SkippedFile(path=f"{label}{info.filename}", reason=reason))
            continue
        files.append(zip_member(archive, info))
    return files, rejected


def _read_folder(root: Path) -> tuple[list[Member], list[SkippedFile]]:
    files: list[Member] = []
    rejected: list[SkippedFile] = []
    for folder, dir_names, file_names in os.walk(root, followlinks=False):
        here = Path(folder)
        for dir_name in sorted(dir_names):
            if (here / dir_name).is_symlink():
                rejected.append(
                    SkippedFile(path=(here / dir_name).relative_to(root).as_posix(), reason="symbolic link")
                )
        dir_names[:] = sorted(name for name in dir_names if not (here / name).is_symlink())
        for file_name in sorted(file_names):
            full = here / file_name
            relative = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            reason = unsafe_path_reason(relative)
            if reason is not None:
                rejected.append(SkippedFile(path=relative, reason=reason))
            elif stat.S_ISLNK(mode):
                rejected.append(SkippedFile(path=relative, reason="symbolic link"))
            elif not stat.S_ISREG(mode):
                rejected.append(SkippedFile(path=relative, reason="not a regular file"))
            else:
                files.append(
                    Member(
                        parts=path_parts(relative),
                        size=full.stat().st_size,
                        open=functools.partial(open_regular_file, full),
                    )
                )
    return files, rejected


def _unwrap_single_folder(files: list[Member], *, is_student_folder: Callable[[str], bool]) -> list[Member]:
    """Drop a folder that wraps the whole download (what some unzip tools add); keep it when it is a student's."""
    heads = {file.parts[0] for file in files}
    if len(heads) != 1 or any(len(file.parts) == 1 for file in files):
        return files
    (head,) = heads
    if is_student_folder(head):
        return files
    return [Member(parts=file.parts[1:], size=file.size, open=file.open, encrypted=file.encrypted) for file in files]


# ---------------------------------------------------------------------------------------------------------------
# Collecting


@dataclass(frozen=True)
class CollectedEntry:
    """One student's hand-in as written to `out_dir`."""

    student: str
    """The entry's name in `out_dir` without suffix: the roster's student_id when the roster links the LMS id,
    else the LMS id. grades.csv calls the hand-in by this name."""
    path: str
    """The entry relative to `out_dir`: a folder, or ``<student>.zip`` / ``<student>.ipynb``."""
    lms_id: str
    lms_name: str
    late: bool | None
    """Canvas's late flag, or Moodle's worksheet's status; None for Moodle without a worksheet."""
    files: tuple[str, ...]
    """Every file written for this student, relative to `out_dir`."""
    days_late: int | None = None
    """Whole days begun past the due date, where the LMS says (Moodle's worksheet)."""


@dataclass(frozen=True)
class CollectReport:
    """What `collect_download` wrote, and every file of the download it did not place, with the reason."""

    lms: LmsName
    out_dir: Path
    entries: tuple[CollectedEntry, ...]
    unrecognised: tuple[SkippedFile, ...]
    """Files whose names are not the LMS's bulk-download names (or operating-system litter such as __MACOSX)."""
    rejected: tuple[SkippedFile, ...]
    """Files refused for safety: names that climb out of a folder, links, encrypted or oversized content."""
    superseded: tuple[SkippedFile, ...]
    """Files that lost to another with the same place in an entry (an older re-upload, a zip member shadowed by
    a loose file)."""
    not_in_roster: tuple[str, ...]
    """LMS ids the roster does not link; their entries are named by the LMS id. Empty without a roster."""
    roster_without_handin: tuple[str, ...]
    """Roster student_ids with no file in the download. Empty without a roster."""
    late_csv: Path | None
    """``out_dir/late.csv`` for Canvas, and for Moodle with a worksheet; else None."""
    warnings: tuple[str, ...] = ()


@dataclass
class _Piece:
    source: Member
    label: str
    lms_id: str
    lms_name: str
    late: bool | None
    target: str
    order: int


@dataclass
class _EntryWriter:
    out_dir: Path
    budget: int
    written: list[str] = field(default_factory=list)
    rejected: list[SkippedFile] = field(default_factory=list)

    def write(self, *, relative: str, source: Member, label: str) -> bool:
        """Copy `source` to out_dir/relative within the entry's byte budget; False (and a report) when refused."""
        reason = unsafe_path_reason(relative)
        if reason is not None:
            self.rejected.append(SkippedFile(path=label, reason=reason))
            return False
        if source.size > self.budget:
            self.rejected.append(SkippedFile(path=label, reason=self.too_large()))
            return False
        destination = _inside(self.out_dir, relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with source.open() as reader, destination.open("wb") as writer:
                copied = copy_bounded(reader, writer, self.budget)
        except SizeLimitExceeded:
            destination.unlink()
            self.rejected.append(SkippedFile(path=label, reason=self.too_large()))
            return False
        self.budget -= copied
        self.written.append(relative)
        return True

    def too_large(self) -> str:
        return f"larger than the {self.budget} bytes left for this student's entry (max_entry_bytes)"


def _inside(base: Path, relative: str) -> Path:
    if unsafe_path_reason(relative) is not None:
        raise CollectError(f"refusing to write {relative!r} outside {base}")
    destination = base / relative
    if not destination.resolve().is_relative_to(base.resolve()):
        raise CollectError(f"refusing to write {relative!r} outside {base}")
    return destination


def _canvas_pieces(
    files: list[Member],
) -> tuple[list[_Piece], list[SkippedFile], list[SkippedFile]]:
    pieces: list[_Piece] = []
    unrecognised: list[SkippedFile] = []
    rejected: list[SkippedFile] = []
    for file in files:
        if "/" in file.path:
            unrecognised.append(SkippedFile(path=file.path, reason="in a sub-folder; Canvas downloads are flat"))
            continue
        parsed = parse_canvas_file_name(file.path)
        if parsed is None:
            unrecognised.append(
                SkippedFile(path=file.path, reason="not a Canvas name <name>[_LATE]_<user id>_<file id>_<file>")
            )
            continue
        reason = unsafe_path_reason(parsed.file_name)
        if reason is not None:
            rejected.append(SkippedFile(path=file.path, reason=reason))
            continue
        pieces.append(
            _Piece(
                source=file,
                label=file.path,
                lms_id=parsed.user_id,
                lms_name=parsed.sortable_name,
                late=parsed.late,
                target="/".join(path_parts(parsed.file_name)),
                order=parsed.file_id,
            )
        )
    return pieces, unrecognised, rejected


def _moodle_pieces(
    files: list[Member],
) -> tuple[list[_Piece], list[SkippedFile], list[SkippedFile]]:
    pieces: list[_Piece] = []
    unrecognised: list[SkippedFile] = []
    for order, file in enumerate(files):
        parsed = parse_moodle_path(file.path)
        if parsed is None:
            unrecognised.append(
                SkippedFile(
                    path=file.path,
                    reason="not a Moodle name <Full Name>_<participant id>_assignsubmission_<plugin>_<file>",
                )
            )
            continue
        pieces.append(
            _Piece(
                source=file,
                label=file.path,
                lms_id=parsed.participant_id,
                lms_name=parsed.full_name,
                late=None,
                target=parsed.file_path,
                order=order,
            )
        )
    return pieces, unrecognised, []


def collect_download(
    *,
    download: Path,
    lms: LmsName,
    out_dir: Path,
    roster: Roster | None = None,
    worksheet: MoodleWorksheet | None = None,
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
) -> CollectReport:
    """Turn an LMS bulk download (a folder or a .zip) into one entry per student in `out_dir`.

    Each entry is named by the roster's student_id when `roster` links the LMS id (``canvas_user_id`` for Canvas,
    ``moodle_id`` for Moodle), else by the LMS id itself (Canvas user id, ``anon_<id>`` under anonymous grading, or
    Moodle participant id). A student with a single .zip or .ipynb gets that file as ``<student>.zip`` /
    ``<student>.ipynb``; any other hand-in becomes a folder ``<student>/`` with every file merged in, and a zip
    handed in next to loose files is unpacked into that folder (loose files win over zip members of the same name).
    Re-uploads that Canvas renamed (``ops-1.py``) take their original name; of two files that end up with the same
    name the later upload wins. For Canvas, ``out_dir/late.csv`` (columns student,late with 0/1) keeps the late
    flags; the grading pipeline reads it when present. For Moodle, `worksheet` (the assignment's offline grading
    worksheet) gives each participant's lateness, written to late.csv with the days late; a participant the download
    has and the worksheet lacks is reported in ``warnings``.

    Nothing is written outside `out_dir`: names with ``..``, absolute paths, backslashes or drive letters, links,
    encrypted members and entries over `max_entry_bytes` are refused and listed in the report's ``rejected``.
    Files that are not the LMS's names are listed in ``unrecognised``; no file is dropped without a line in the
    report. `out_dir` must not exist yet, or be empty.
    """
    if not download.exists():
        raise CollectError(f"{download}: no such file or folder")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise CollectError(f"{out_dir}: exists and is not an empty folder; collect into a fresh one")
    if download.is_dir() and out_dir.resolve().is_relative_to(download.resolve()):
        raise CollectError(f"{out_dir}: inside the download {download}; collect somewhere else")
    if worksheet is not None and lms != "moodle":
        raise CollectError("a grading worksheet is Moodle's; Canvas's download names say which hand-ins are late")

    with contextlib.ExitStack() as stack:
        if download.is_dir():
            files, rejected = _read_folder(download)
        else:
            try:
                archive = stack.enter_context(zipfile.ZipFile(download))
            except (zipfile.BadZipFile, OSError) as error:
                raise CollectError(f"{download}: not a readable zip archive: {error}") from None
            files, rejected = _read_zip(archive, label="")
        return _collect_files(
            files=files,
            rejected=rejected,
            lms=lms,
            out_dir=out_dir,
            roster=roster,
            worksheet=worksheet,
            max_entry_bytes=max_entry_bytes,
        )


def _is_moodle_student_folder(name: str) -> bool:
    match = _MOODLE_PREFIX.match(name)
    return match is not None and not match["rest"]


def _collect_files(
    *,
    files: list[Member],
    rejected: list[SkippedFile],
    lms: LmsName,
    out_dir: Path,
    roster: Roster | None,
    worksheet: MoodleWorksheet | None,
    max_entry_bytes: int,
) -> CollectReport:
    unrecognised: list[SkippedFile] = []
    superseded: list[SkippedFile] = []
    warnings: list[str] = []
    hand_in_files: list[Member] = []
    for file in files:
        if is_system_file(file.parts):
            unrecognised.append(SkippedFile(path=file.path, reason="operating-system metadata, not part of a hand-in"))
        else:
            hand_in_files.append(file)
    if lms == "canvas":
        hand_in_files = _unwrap_single_folder(hand_in_files, is_student_folder=lambda _name: False)
        pieces, more_unrecognised, more_rejected = _canvas_pieces(hand_in_files)
    elif lms == "moodle":
        hand_in_files = _unwrap_single_folder(hand_in_files, is_student_folder=_is_moodle_student_folder)
        pieces, more_unrecognised, more_rejected = _moodle_pieces(hand_in_files)
    else:
        assert_never(lms)
    unrecognised += more_unrecognised
    rejected += more_rejected

    by_lms_id: dict[str, list[_Piece]] = {}
    for piece in pieces:
        by_lms_id.setdefault(piece.lms_id, []).append(piece)

    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[CollectedEntry] = []
    not_in_roster: list[str] = []
    for lms_id in sorted(by_lms_id):
        student = _entry_name(lms=lms, lms_id=lms_id, roster=roster, not_in_roster=not_in_roster, warnings=warnings)
        winners = _latest_by_target(by_lms_id[lms_id], superseded=superseded)
        writer = _EntryWriter(out_dir=out_dir, budget=max_entry_bytes)
        path = _write_entry(
            student=student,
            winners=winners,
            writer=writer,
            unrecognised=unrecognised,
            superseded=superseded,
            warnings=warnings,
        )
        rejected += writer.rejected
        if not writer.written:
            warnings.append(f"{lms} id {lms_id}: nothing could be placed, so there is no entry for {student}")
            continue
        first = winners[0]
        lateness: Lateness | None = None
        if lms == "canvas":
            lateness = Lateness(late=any(piece.late for piece in winners))
        elif worksheet is not None:
            if worksheet.by_participant(lms_id) is None:
                warnings.append(f"moodle participant {lms_id} is not in the grading worksheet {worksheet.source}")
            lateness = worksheet.lateness(lms_id)
        entries.append(
            CollectedEntry(
                student=student,
                path=path,
                lms_id=lms_id,
                lms_name=first.lms_name,
                late=lateness.late if lateness is not None else None,
                days_late=lateness.days_late if lateness is not None else None,
                files=tuple(writer.written),
            )
        )
    entries.sort(key=lambda entry: entry.student)

    late_csv: Path | None = None
    if lms == "canvas" or worksheet is not None:
        late_csv = write_late_csv(
            out_dir, {entry.student: Lateness(late=bool(entry.late), days_late=entry.days_late) for entry in entries}
        )

    collected = {entry.student for entry in entries}
    roster_without_handin = (
        tuple(student.student_id for student in roster.students if student.student_id not in collected)
        if roster is not None
        else ()
    )
    return CollectReport(
        lms=lms,
        out_dir=out_dir,
        entries=tuple(entries),
        unrecognised=tuple(sorted(unrecognised, key=lambda skipped: skipped.path)),
        rejected=tuple(sorted(rejected, key=lambda skipped: skipped.path)),
        superseded=tuple(sorted(superseded, key=lambda skipped: skipped.path)),
        not_in_roster=tuple(not_in_roster),
        roster_without_handin=roster_without_handin,
        late_csv=late_csv,
        warnings=tuple(warnings),
    )


def _entry_name(
    *, lms: LmsName, lms_id: str, roster: Roster | None, not_in_roster: list[str], warnings: list[str]
) -> str:
    if roster is None:
        return lms_id
    student = roster.by_lms_id(lms, lms_id)
    if student is not None:
        return student.student_id
    not_in_roster.append(lms_id)
    if roster.by_student_id(lms_id) is not None:
        # The bare LMS id is some other student's kit id; keep the two hand-ins apart.
        warnings.append(
            f"{lms} id {lms_id} is not in the roster but is another student's student_id; "
            f"its entry is named {lms}-{lms_id}"
        )
        return f"{lms}-{lms_id}"
    return lms_id


def _latest_by_target(pieces: list[_Piece], *, superseded: list[SkippedFile]) -> list[_Piece]:
    winners: dict[str, _Piece] = {}
    for piece in sorted(pieces, key=lambda piece: piece.order):
        earlier = winners.get(piece.target)
        if earlier is not None:
            superseded.append(SkippedFile(path=earlier.label, reason=f"replaced by the later upload {piece.label}"))
        winners[piece.target] = piece
    return sorted(winners.values(), key=lambda piece: piece.target)


def _is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def _write_entry(
    *,
    student: str,
    winners: list[_Piece],
    writer: _EntryWriter,
    unrecognised: list[SkippedFile],
    superseded: list[SkippedFile],
    warnings: list[str],
) -> str:
    """Write one student's files; return the entry's path relative to out_dir."""
    if len(winners) == 1 and "/" not in winners[0].target:
        suffix = Path(winners[0].target).suffix.lower()
        if suffix in ENTRY_FILE_SUFFIXES:
            relative = student + suffix
            writer.write(relative=relative, source=winners[0].source, label=winners[0].label)
            return relative
    archives = [piece for piece in winners if _is_zip_name(piece.target)]
    for piece in winners:
        if piece not in archives:
            writer.write(relative=f"{student}/{piece.target}", source=piece.source, label=piece.label)
    for piece in archives:
        _unpack_into_entry(
            student=student,
            piece=piece,
            writer=writer,
            unrecognised=unrecognised,
            superseded=superseded,
            warnings=warnings,
        )
    return student


def _unpack_into_entry(
    *,
    student: str,
    piece: _Piece,
    writer: _EntryWriter,
    unrecognised: list[SkippedFile],
    superseded: list[SkippedFile],
    warnings: list[str],
) -> None:
    """Unpack a zip handed in next to other files into the entry folder, so the grader sees one tree."""
    try:
        with piece.source.open() as reader:
            data = read_bounded(reader, writer.budget)
    except SizeLimitExceeded:
        writer.rejected.append(SkippedFile(path=piece.label, reason=writer.too_large()))
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        warnings.append(f"{piece.label}: not a readable zip archive; kept as {student}/{piece.target}")
        writer.write(relative=f"{student}/{piece.target}", source=piece.source, label=piece.label)
        return
    with archive:
        members, refused = _read_zip(archive, label=f"{piece.label}!/")
        writer.rejected.extend(refused)
        taken = set(writer.written)
        for member in members:
            label = f"{piece.label}!/{member.path}"
            relative = f"{student}/{member.path}"
            if is_system_file(member.parts):
                unrecognised.append(SkippedFile(path=label, reason="operating-system metadata, not part of a hand-in"))
            elif relative in taken:
                superseded.append(
                    SkippedFile(path=label, reason="a file of the same name was handed in beside the zip")
                )
            else:
                writer.write(relative=relative, source=member, label=label)
                taken.add(relative)


# ---------------------------------------------------------------------------------------------------------------
# late.csv: written here, read when the collected hand-ins are graded


@dataclass(frozen=True)
class Lateness:
    """Whether a hand-in came in after its due date, and how many days late (whole days begun) where known."""

    late: bool
    days_late: int | None = None
    """None when on time, or when the LMS says only that the hand-in is late (Canvas's download names)."""


ON_TIME = Lateness(late=False)
# One student's row of late.csv is a few bytes; a bigger file is not one this module wrote.
MAX_LATE_CSV_BYTES = 4 * 1024 * 1024


class LateCsvError(CoursekitError, ValueError):
    """late.csv beside the hand-ins is not the file `write_late_csv` writes; the message names the line."""


def write_late_csv(submissions_dir: Path, late: dict[str, Lateness]) -> Path:
    """Write ``submissions_dir/late.csv`` (columns student, late with 0/1, days_late empty where not known), one
    row per entry, in the given order."""
    path = submissions_dir / LATE_CSV
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["student", "late", "days_late"])
        for student, lateness in late.items():
            days = "" if lateness.days_late is None or not lateness.late else lateness.days_late
            writer.writerow([student, 1 if lateness.late else 0, days])
    return path


def read_late_csv(submissions_dir: Path) -> dict[str, Lateness]:
    """Each entry's lateness from ``submissions_dir/late.csv``, as `write_late_csv` wrote it (an instructor may fill
    in days_late, from Canvas's gradebook say); empty when there is none. A bad row is an error naming its line:
    a late policy must never guess."""
    path = submissions_dir / LATE_CSV
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_LATE_CSV_BYTES:
        raise LateCsvError(f"{path}: larger than {MAX_LATE_CSV_BYTES} bytes; not a late.csv that collect wrote")
    found: dict[str, Lateness] = {}
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = csv.DictReader(file)
        if rows.fieldnames is None or not {"student", "late"} <= set(rows.fieldnames):
            raise LateCsvError(f"{path}, line 1: expected the columns student,late,days_late")
        for row in rows:
            line = rows.line_num
            student, flag, days = (row.get(key) or "" for key in ("student", "late", "days_late"))
            if flag.strip() not in ("0", "1"):
                raise LateCsvError(f"{path}, line {line}: late must be 0 or 1, got {flag!r}")
            days = days.strip()
            if days and (not _DIGITS.match(days) or int(days) < 1 or flag.strip() == "0"):
                raise LateCsvError(
                    f"{path}, line {line}: days_late must be a whole number of days, 1 or more, on a late row; "
                    f"got {days!r}"
                )
            found[student] = Lateness(late=flag.strip() == "1", days_late=int(days) if days else None)
    return found


def read_late_flags(submissions_dir: Path) -> dict[str, bool]:
    """The late flags of ``submissions_dir/late.csv``; empty when there is none."""
    return {student: lateness.late for student, lateness in read_late_csv(submissions_dir).items()}
