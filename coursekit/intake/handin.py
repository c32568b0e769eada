"""Intake: turn one student's hand-in (a folder, a .zip or a notebook) into a clean folder of contract modules.

`unpack_handin` writes exactly the contract modules it found (course.yml's parts' files) into a fresh folder
and nothing else, anywhere. Everything wrong with a hand-in becomes a `Problem` whose message
names the file and says what to do; the rest of the hand-in is still unpacked where it can be. Nothing a
hand-in contains is executed: sources are checked with `ast.parse` only.

The hand-in is never trusted: zip entry names are never used as paths (a module is written under its contract
name only), symbolic links are never followed, sizes are measured while reading in chunks (never taken from a
zip header), and the number of entries looked at is bounded. So is the work a hand-in can cause beyond its
size: a notebook's cells, outputs and code, a module's source, and the problems named per notebook.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import math
import os
import re
import tokenize
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from coursekit.author.student_folder import GENERATED_FILES, HANDIN_SCRIPT
from coursekit.config import Course, IntakeLimits
from coursekit.errors import CoursekitError
from coursekit.intake.archives import (
    SYSTEM_FOLDER_NAMES,
    Member,
    SizeLimitExceeded,
    is_folder_entry,
    is_symlink_entry,
    is_system_file,
    open_regular_file,
    path_parts,
    read_bounded,
    unsafe_path_reason,
    zip_member,
)

HANDIN_SUFFIXES = (".zip", ".ipynb")
# Python files of the release's public tests and package markers; with the course's given modules, the files
# beside a student's modules that are never worth a remark.
RELEASE_FILES = frozenset({"conftest.py", "__init__.py"})

# Tool and editor droppings, ignored without a word, as operating-system litter is (coursekit.intake.archives).
JUNK_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
# Folders a zip of the whole student folder carries that no student wrote: skipped without being read, and named in
# a note, since they are what makes such a zip large. A folder holding one of ENVIRONMENT_MARKERS is an environment
# whatever its name (python -m venv writes pyvenv.cfg, conda writes conda-meta/).
ENVIRONMENT_DIRS = frozenset({".venv", ".conda", "site-packages"})
ENVIRONMENT_MARKERS = frozenset({"pyvenv.cfg", "conda-meta"})
# A venv made in the student's own folder (`python -m venv .`) puts its marker beside the modules: then only the
# environment's own folders are skipped (venv's lib, bin, include; Windows' Lib, Scripts, Include; share).
ENVIRONMENT_SUBDIRS = frozenset({"lib", "lib64", "bin", "include", "scripts", "share"})
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
# A zip's central directory is read whole before any entry (zipfile parses all of it); this bounds that work
# whatever the zip's size. A zip of a student folder with a venv holding torch, numpy, matplotlib and pytest lists
# about 20,000 entries in 2.5 MB (about 130 bytes each); 16 MiB is six times that, about 130,000 entries, parsed
# by zipfile in about a second.
MAX_ZIP_DIRECTORY_BYTES = 16 * 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".gz", ".bz2", ".xz", ".7z", ".rar")
# Cell magics whose body is Python: keep the body, comment out the magic line.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

# Bounds on the work one notebook can make intake do, whatever course.yml's size limit allows. The release
# notebook has 39 cells (24 of them code) and, filled in, 17 KB of code. 2,000 cells is 50 times that, room for
# every scratch cell a student adds; intake reads 2,000 five-line cells with an output each in about 0.3 s,
# where 100,000 tiny cells took 9.6 s before this bound. A code cell has a handful of outputs at most (Jupyter
# merges a cell's printed lines into one output).
MAX_NOTEBOOK_CELLS = 2_000
MAX_NOTEBOOK_OUTPUTS = 10_000
# The Python source of one module, or of all a notebook's code cells together: 160 times the largest reference
# module (3.2 KB), 30 times the filled-in release notebook's code. Intake parses every source to report syntax
# errors early, at up to 1.2 s per MB (measured on one-statement lines; 0.3 s per MB for the solutions' code).
MAX_SOURCE_BYTES = 512 * 1024
# Notebook cells that do not parse are each named up to this many; the rest are counted in one line.
MAX_CELL_PROBLEMS_NAMED = 10

_MAX_FOLDER_DEPTH = 32
# Within one line only ([ \t\f], not \s): a pattern whose indentation could span lines takes time quadratic
# in the number of blank lines of a cell.
_DEFINITION = re.compile(r"^[ \t\f]*(?:async[ \t\f]+def|def|class)[ \t\f]+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a hand-in. `file` is the contract module it concerns, None for the whole hand-in."""

    file: str | None
    message: str


@dataclass(frozen=True)
class Handin:
    """One unpacked hand-in: the contract modules written into `directory`, and what was wrong."""

    student_id: str
    source: Path
    directory: Path
    files: tuple[str, ...]
    problems: tuple[Problem, ...]


class HandinConflictError(CoursekitError, ValueError):
    """Two entries of a submissions folder give the same student id (alice.zip and alice/)."""


def discover_handins(*, submissions_dir: Path) -> tuple[list[tuple[str, Path]], list[Path]]:
    """Find the hand-ins in a class's submissions folder: one folder, .zip or .ipynb per student.

    Returns (student id, entry) pairs sorted by id, and the entries skipped: hidden files, symbolic links and
    stray files that are not hand-ins (a grades .csv, a README). The student id is the entry's name without its
    extension. Raises `HandinConflictError` naming every pair of entries that give the same id (ignoring case,
    since results/<id>.json files would collide on macOS and Windows).
    """
    found: list[tuple[str, Path]] = []
    skipped: list[Path] = []
    for entry in sorted(submissions_dir.iterdir()):
        name = entry.name
        if name.startswith((".", "~$")) or name.lower() in JUNK_DIRS | SYSTEM_FOLDER_NAMES or entry.is_symlink():
            skipped.append(entry)
        elif entry.is_dir():
            found.append((name, entry))
        elif entry.is_file() and entry.suffix.lower() in HANDIN_SUFFIXES and entry.stem:
            found.append((entry.stem, entry))
        else:
            skipped.append(entry)
    by_id: dict[str, list[Path]] = {}
    for student_id, entry in found:
        by_id.setdefault(student_id.casefold(), []).append(entry)
    conflicts = [by_id[key] for key in sorted(by_id) if len(by_id[key]) > 1]
    if conflicts:
        lines = [" and ".join(_entry_label(path) for path in paths) for paths in conflicts]
        raise HandinConflictError(
            f"{submissions_dir}: more than one hand-in for the same student: {'; '.join(lines)}. "
            "Keep one hand-in per student and grade again."
        )
    return sorted(found, key=lambda pair: pair[0]), skipped


def _entry_label(path: Path) -> str:
    return f"{path.name}/" if path.is_dir() else path.name


def unpack_handin(*, student_id: str, source: Path, dest_dir: Path, course: Course, limits: IntakeLimits) -> Handin:
    """Unpack one hand-in into `dest_dir`, a fresh folder this creates (an existing one must be empty).

    Writes only the contract modules found (the files of `course`'s parts), each under its contract name,
    within `limits` (the course's intake limits, as a rule), and reports everything wrong as a `Problem`: unsafe or linked zip entries, size and entry limits,
    nested archives, damaged or encrypted zips, duplicate or oddly cased module names, broken notebooks,
    sources that are not UTF-8, contain NUL bytes or do not parse (still written, so the grader reports the
    same), missing modules and empty hand-ins.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    if any(dest_dir.iterdir()):
        raise FileExistsError(f"{dest_dir} is not empty: intake unpacks into a fresh folder")
    intake = _Intake(source=source, dest_dir=dest_dir, course=course, limits=limits)
    if source.is_symlink():
        intake.report(None, f"{source.name} is a symbolic link; hand in the file itself")
    elif source.is_dir():
        intake.unpack_members(_folder_members(source, intake), where=f"{source.name}/")
    elif source.is_file() and source.suffix.lower() == ".zip":
        intake.unpack_zip()
    elif source.is_file() and source.suffix.lower() == ".ipynb":
        intake.unpack_notebook()
    else:
        intake.report(
            None, f"{source.name} is not a hand-in: hand in a .zip, a folder or a .ipynb notebook holding your modules"
        )
    return Handin(
        student_id=student_id,
        source=source,
        directory=dest_dir,
        files=tuple(name for name in intake.module_files if name in intake.written),
        problems=(*intake.problems, *intake.notes),
    )


class _Intake:
    """The state of one unpacking: the size budget, what was written and the problems found."""

    def __init__(self, *, source: Path, dest_dir: Path, course: Course, limits: IntakeLimits) -> None:
        self.source = source
        self.dest_dir = dest_dir
        self.limits = limits
        # The names each module must define, and the modules for messages: "ops.py, grid.py and loop.py".
        self.contract = course.contract
        self.module_files = tuple(self.contract)
        self.files_text = course.contract_files_text()
        self.files_text_or = course.contract_files_text(conjunction="or")
        # The release's own files beside the modules: the tool's (pytest.ini, the handin script...) and the course's.
        self.quiet_files = (
            RELEASE_FILES
            | set(GENERATED_FILES)
            | set(course.given_modules)
            | {script.file for script in course.release.scripts}
        )
        self.budget = int(limits.max_total_mb * 1024 * 1024)
        self.problems: list[Problem] = []
        # What was skipped unread, said after the problems with the modules themselves.
        self.notes: list[Problem] = []
        self.written: set[str] = set()

    @property
    def limit_text(self) -> str:
        return f"{self.limits.max_total_mb:g} MB"

    def report(self, file: str | None, message: str) -> None:
        self.problems.append(Problem(file, message))

    def module_of(self, name: str) -> str | None:
        """The contract module a file name stands for, in any case; None for any other file."""
        return name.lower() if name.lower() in self.contract else None

    def read(self, stream: IO[bytes]) -> bytes:
        """Read a whole stream, bounded by the hand-in's budget, and charge the budget what it held."""
        with stream:
            data = read_bounded(stream, self.budget)
        self.budget -= len(data)
        return data

    def write_module(self, module: str, data: bytes, *, origin: str) -> None:
        """Check a module's source without running it, then write it under its contract name."""
        for message in _source_problems(module, data, origin=origin):
            self.report(module, message)
        # "xb": never through a link or over a file that was not ours.
        with open(self.dest_dir / module, "xb") as target:
            target.write(data)
        self.written.add(module)

    # -- zips ------------------------------------------------------------------------------------------------

    def unpack_zip(self) -> None:
        """Read the zip's listing (bounded by MAX_ZIP_DIRECTORY_BYTES), then only the entries intake picks.

        The zip's own size is no bound: a zip of the whole folder with a virtual environment can be hundreds of MB,
        of which intake reads the listing and the modules alone, each read bounded by the hand-in's budget.
        """
        name = self.source.name
        try:
            with open_regular_file(self.source) as stream:
                directory_bytes = _zip_directory_size(stream)
            if directory_bytes is not None and directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
                self.report(
                    None,
                    f"{name} lists more files than intake reads (its listing is {_megabytes(directory_bytes)}, over "
                    f"{_megabytes(MAX_ZIP_DIRECTORY_BYTES)}): hand in a zip of {self.files_text} only",
                )
                return
            archive = zipfile.ZipFile(self.source)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
            self.report(
                None,
                f"{name} is not a readable zip file (it may be truncated, or not a zip at all: {_reason(error)}); "
                "create the zip again and hand it in again",
            )
            return
        with archive:
            self.unpack_members(_zip_members(archive, self), where=name)

    # -- folders and zips alike ------------------------------------------------------------------------------

    def unpack_members(self, members: Iterator[Member], *, where: str) -> None:
        """Pick each contract module among a folder's or zip's files, read it (bounded) and write it."""
        candidates: dict[str, list[Member]] = {module: [] for module in self.module_files}
        notebooks: list[Member] = []
        others: list[Member] = []
        for member in members:
            lower = member.name.lower()
            if lower in candidates:
                if member.encrypted:
                    self.report(
                        lower,
                        f"{member.path} in {where} is password-protected, so it cannot be read: "
                        "hand in a zip without a password",
                    )
                else:
                    candidates[lower].append(member)
            elif lower.endswith(ARCHIVE_SUFFIXES):
                self.report(
                    None,
                    f"{member.path} in {where} is an archive inside the hand-in; it was not unpacked: "
                    f"put {self.files_text} themselves in the hand-in",
                )
            elif lower.endswith(".ipynb"):
                notebooks.append(member)
            else:
                others.append(member)
                if member.size > self.budget:
                    self.report(
                        None,
                        f"{member.path} in {where} is {_megabytes(member.size)}, over the {self.limit_text} limit "
                        "for a hand-in; it was ignored: leave data and large files out of the hand-in",
                    )
        chosen_dirs: set[tuple[str, ...]] = set()
        for module in self.module_files:
            chosen = self._choose(module, candidates[module], where=where)
            if chosen is None:
                continue
            chosen_dirs.add(chosen.parts[:-1])
            data = self._read_member(module, chosen, where=where)
            if data is not None and len(data) > MAX_SOURCE_BYTES:
                self.report(
                    module,
                    f"{chosen.path} in {where} is {_megabytes(len(data))}, more than the {_kilobytes(MAX_SOURCE_BYTES)} "
                    f"a Python module may be; it was not graded: keep data and generated code out of {module}",
                )
            elif data is not None:
                self.write_module(module, data, origin=chosen.path)
        self._report_helper_modules(others, chosen_dirs, where=where)
        missing = [module for module in self.module_files if not candidates[module]]
        if missing and notebooks:
            self._unpack_inner_notebook(notebooks, missing, where=where)
            if not self.written:
                return  # the notebook's own problems say why
        accounted = {problem.file for problem in self.problems} | self.written
        if not accounted & set(self.module_files):
            seen = ", ".join(sorted(member.path for member in others)[:5]) or "nothing"
            self.report(
                None,
                f"{where} holds no {self.files_text_or} (it holds: {seen}"
                f"{', ...' if len(others) > 5 else ''}): hand in those files, at the zip's root or in one folder",
            )
            return
        for module in (module for module in missing if module not in accounted):
            self.report(module, f"{module} was not handed in: add {module} to your hand-in, next to your other modules")

    def _choose(self, module: str, members: list[Member], *, where: str) -> Member | None:
        """The shallowest copy of a module wins, then the exactly named one, then the first by path."""
        if not members:
            return None
        ranked = sorted(members, key=lambda member: (len(member.parts), member.name != module, member.path))
        chosen = ranked[0]
        if len(ranked) > 1:
            paths = ", ".join(member.path for member in ranked)
            self.report(
                module,
                f"{where} holds {len(ranked)} files named {module} ({paths}); {chosen.path} was graded: "
                "hand in only one",
            )
        if chosen.name != module:
            self.report(
                module,
                f"{chosen.path} in {where} was graded as {module}: Python module names are case-sensitive, "
                f"so name the file {module}",
            )
        return chosen

    def _read_member(self, module: str, member: Member, *, where: str) -> bytes | None:
        try:
            return self.read(member.open())
        except SizeLimitExceeded:
            self.report(
                module,
                f"{member.path} in {where} unpacks to more than the {self.limit_text} limit for a hand-in; "
                f"it was not unpacked: hand in the source file {module} only",
            )
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, RuntimeError, NotImplementedError) as error:
            self.report(
                module,
                f"{member.path} in {where} could not be read ({_reason(error)}): "
                "create the hand-in again and hand it in again",
            )
        return None

    def _report_helper_modules(self, others: list[Member], chosen_dirs: set[tuple[str, ...]], *, where: str) -> None:
        """Other .py files beside the modules are not graded: code imported from them will be missing."""
        for member in others:
            name = member.name
            if (
                member.parts[:-1] in chosen_dirs
                and name.endswith(".py")
                and name not in self.quiet_files
                and not name.startswith("test_")
            ):
                self.report(
                    None,
                    f"{member.path} in {where} was ignored: only {self.files_text} are graded, "
                    "so move any code they need from it into them",
                )

    def _unpack_inner_notebook(self, notebooks: list[Member], missing: list[str], *, where: str) -> None:
        notebook = min(notebooks, key=lambda member: (len(member.parts), member.path))
        if len(notebooks) > 1:
            self.report(
                None,
                f"{where} holds {len(notebooks)} notebooks; only {notebook.path} was read: hand in one notebook",
            )
        try:
            data = self.read(notebook.open())
        except SizeLimitExceeded:
            self.report(None, f"{notebook.path} in {where} is over the {self.limit_text} limit for a hand-in")
            return
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, RuntimeError, NotImplementedError) as error:
            self.report(None, f"{notebook.path} in {where} could not be read ({_reason(error)})")
            return
        self._write_notebook_modules(data, label=f"{notebook.path} in {where}", only=missing)

    # -- notebooks ---------------------------------------------------------------------------------------------

    def unpack_notebook(self) -> None:
        name = self.source.name
        size = self.source.stat().st_size
        if size > self.budget:
            self.report(
                None,
                f"{name} is {_megabytes(size)}, over the {self.limit_text} limit for a hand-in: "
                "clear the notebook's outputs (Edit > Clear All Outputs), save it and hand it in again",
            )
            return
        try:
            data = self.read(open_regular_file(self.source))
        except SizeLimitExceeded:
            self.report(None, f"{name} is over the {self.limit_text} limit for a hand-in")
            return
        self._write_notebook_modules(data, label=name, only=list(self.module_files))

    def _write_notebook_modules(self, data: bytes, *, label: str, only: list[str]) -> None:
        code, problems = notebook_code(data, label=label, contract=self.contract)
        self.problems.extend(problems)
        if code is None:
            return
        defined = code.defined_names
        source = code.source
        wanted = [module for module in only if defined & set(self.contract[module])]
        if not wanted:
            names = ", ".join(name for module in only for name in self.contract[module])
            self.report(
                None,
                f"{label} defines none of {names}: write your code in the notebook's code cells, keeping those names",
            )
            return
        for module in wanted:
            self.write_module(module, source.encode("utf-8"), origin=label)
        for module in only:
            if module not in wanted:
                names = ", ".join(self.contract[module])
                self.report(module, f"{module} was not handed in: {label} defines none of {names}")


# -- zip and folder listings -------------------------------------------------------------------------------------


def _zip_directory_size(stream: IO[bytes]) -> int | None:
    """The size of a zip's central directory as its end record declares it (what zipfile would read); None when the
    end record cannot be found (zipfile then refuses the file itself)."""
    # zipfile's own reader of the end record (zip64 included): the size it returns is the size zipfile reads.
    record = zipfile._EndRecData(stream)  # type: ignore[attr-defined]
    return None if record is None else int(record[zipfile._ECD_SIZE])  # type: ignore[attr-defined]


@dataclass
class _Skipped:
    """Folders skipped without being read: each kind's top folders, and the entries under them."""

    folders: dict[str, list[str]]  # "a virtual environment" -> [".venv/", ...]
    entries: int = 0


def _skipped_kind(
    parts: tuple[str, ...], environments: set[tuple[str, ...]], shared: set[tuple[str, ...]]
) -> tuple[int, str] | None:
    """Where in `parts` a skipped folder starts, and its kind, for the folders named in the note; None otherwise.

    `environments`: the environments' root folders; `shared`: roots that also hold the student's modules.
    """
    for depth, part in enumerate(parts[:-1]):
        lower = part.lower()
        in_shared_root = parts[:depth] in shared and lower in ENVIRONMENT_SUBDIRS
        if lower in ENVIRONMENT_DIRS or parts[: depth + 1] in environments or in_shared_root:
            return depth, "a virtual environment"
        if lower in VCS_DIRS:
            return depth, "version control"
    return None


def _zip_members(archive: zipfile.ZipFile, intake: _Intake) -> Iterator[Member]:
    """The zip's regular files, minus junk; unsafe names and links are reported, never followed.

    Environments, version control and caches are skipped by name before anything is counted or read, so a zip of
    the whole folder is judged by the files a student wrote; the note says what was skipped.
    """
    name = intake.source.name
    infos = archive.infolist()
    environments: set[tuple[str, ...]] = set()  # the folders holding pyvenv.cfg or conda-meta/
    for info in infos:
        parts = path_parts(info.filename)
        for depth, part in enumerate(parts):
            if part.lower() in ENVIRONMENT_MARKERS:
                environments.add(parts[:depth])
                break
    # Environment roots that hold a module directly: only their environment folders are skipped.
    shared = {parts[:-1] for parts in (path_parts(info.filename) for info in infos) if intake.module_of(parts[-1])}
    shared &= environments
    environments -= shared
    skipped = _Skipped(folders={})
    looked_at = 0
    for info in infos:
        filename = info.filename
        if is_folder_entry(info):
            continue
        unsafe = unsafe_path_reason(filename)
        if unsafe is not None:
            intake.report(
                None,
                f"{name} holds an entry with an unsafe path ({filename!r}: {unsafe}); it was ignored: "
                "zip the files from their own folder",
            )
            continue
        parts = path_parts(filename)
        kind = _skipped_kind(parts, environments, shared)
        if kind is not None:
            depth, label = kind
            folder = "/".join(parts[: depth + 1]) + "/"
            folders = skipped.folders.setdefault(label, [])
            if folder not in folders:
                folders.append(folder)
        if kind is not None or _is_junk(parts):
            skipped.entries += 1
            continue
        looked_at += 1
        if looked_at > intake.limits.max_entries:
            if looked_at == intake.limits.max_entries + 1:
                intake.report(
                    None,
                    f"{name} has more than {intake.limits.max_entries} files besides environments and caches; only "
                    f"the first {intake.limits.max_entries} were looked at: hand in a zip of {intake.files_text}",
                )
            continue
        member = zip_member(archive, info)
        if is_symlink_entry(info):
            intake.report(
                intake.module_of(member.name),
                f"{member.path} in {name} is a symbolic link; it was not followed: put the file itself in the zip",
            )
            continue
        yield member
    _report_skipped(intake, skipped, where=name)


def _report_skipped(intake: _Intake, skipped: _Skipped, *, where: str) -> None:
    """One note naming the environments and version-control folders skipped (caches are skipped without a word)."""
    if not skipped.folders:
        return
    named = "; ".join(
        f"{label}: {', '.join(folders[:3])}{', ...' if len(folders) > 3 else ''}"
        for label, folders in skipped.folders.items()
    )
    count = f" ({skipped.entries:,} files)" if skipped.entries else ""
    intake.notes.append(
        Problem(
            None,
            f"{where}: skipped without reading{count}: {named}. Only {intake.files_text} are graded; "
            f"`python {HANDIN_SCRIPT}` in your folder makes a zip of just those",
        )
    )


def _folder_members(root: Path, intake: _Intake) -> Iterator[Member]:
    """A folder's regular files, minus junk, without following symbolic links, at most max_entries looked at."""
    seen = 0
    skipped = _Skipped(folders={})

    def walk(directory: Path, parts: tuple[str, ...]) -> Iterator[Member]:
        nonlocal seen
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            intake.report(None, f"{root.name}/{'/'.join(parts)} could not be read ({_reason(error)})")
            return
        # A venv made in this very folder: its own folders are skipped, the modules beside them are not.
        in_venv = any(entry.name.lower() in ENVIRONMENT_MARKERS for entry in entries)
        for entry in entries:
            seen += 1
            if seen > intake.limits.max_entries:
                if seen == intake.limits.max_entries + 1:
                    intake.report(
                        None,
                        f"{root.name}/ has more than {intake.limits.max_entries} entries; only the first "
                        f"{intake.limits.max_entries} were looked at: hand in {intake.files_text} only",
                    )
                return
            entry_parts = (*parts, entry.name)
            if entry.is_dir(follow_symlinks=False) and (
                kind := _skipped_folder_kind(Path(entry.path), in_venv, intake.module_files)
            ):
                skipped.folders.setdefault(kind, []).append("/".join(entry_parts) + "/")
                continue
            if _is_junk(entry_parts):
                continue
            label = f"{root.name}/{'/'.join(entry_parts)}"
            if entry.is_symlink():
                intake.report(
                    intake.module_of(entry.name),
                    f"{label} is a symbolic link; it was not followed: hand in the file itself",
                )
            elif entry.is_dir(follow_symlinks=False):
                if len(entry_parts) < _MAX_FOLDER_DEPTH:
                    yield from walk(Path(entry.path), entry_parts)
            elif entry.is_file(follow_symlinks=False):
                yield Member(
                    parts=entry_parts,
                    size=entry.stat(follow_symlinks=False).st_size,
                    open=functools.partial(open_regular_file, entry.path),
                )
            else:
                intake.report(intake.module_of(entry.name), f"{label} is not a regular file; it was ignored")

    def members() -> Iterator[Member]:
        yield from walk(root, ())
        _report_skipped(intake, skipped, where=f"{root.name}/")

    return members()


def _skipped_folder_kind(path: Path, in_venv: bool, modules: tuple[str, ...]) -> str | None:
    """Whether a folder of a folder hand-in is an environment or version control (skipped and noted); `in_venv`:
    its parent folder is a venv's root. A venv's root that holds one of `modules` is the student's folder."""
    name = path.name.lower()
    if name in VCS_DIRS:
        return "version control"
    if (
        name in ENVIRONMENT_DIRS
        or (in_venv and name in ENVIRONMENT_SUBDIRS)
        or (
            any(os.path.lexists(path / marker) for marker in ENVIRONMENT_MARKERS)
            # In any case, as the modules themselves are found (a venv's root lists a handful of entries).
            and not any(name.lower() in modules for name in os.listdir(path))
        )
    ):
        return "a virtual environment"
    return None


def _is_junk(parts: tuple[str, ...]) -> bool:
    """Operating-system metadata, editor and VCS folders, caches: nothing a student wrote."""
    name = parts[-1].lower()
    if is_system_file(parts) or name in JUNK_DIRS or name.endswith((".pyc", "~")):
        return True
    return any(part.lower() in JUNK_DIRS or part.startswith(".") for part in parts[:-1]) or name.startswith(".")


# -- checking sources ----------------------------------------------------------------------------------------------


def _source_problems(module: str, data: bytes, *, origin: str) -> list[str]:
    """What stops a module's source from importing, found without running it."""
    shown = module if origin.lower().endswith(module) else f"{module} (from {origin})"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [f"{shown} is saved as UTF-16 text: save it as UTF-8 and hand it in again"]
    if b"\x00" in data:
        return [f"{shown} contains NUL bytes, so it is not a Python source file: hand in the .py file itself"]
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return [f"{shown} is not UTF-8 text (saved as Latin-1?): save it as UTF-8 in your editor and hand it in again"]
    if text.startswith("\ufeff"):
        text = text[1:]
    error = _parse_error(text)
    if isinstance(error, SyntaxError):
        return [f"{shown}: SyntaxError at line {error.lineno}: {error.msg}"]
    if error is not None:
        return [f"{shown} cannot be parsed as Python: {_reason(error)}"]
    return []


@functools.lru_cache(maxsize=1)
def _parse_error(text: str) -> Exception | None:
    """Why a source does not parse, or None; cached, as one notebook's source is checked for each module it defines."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return error
    return None


# -- notebooks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotebookCode:
    """A notebook as one Python source, and the names its code cells define at module level."""

    source: str
    defined_names: frozenset[str]


def notebook_code(
    data: bytes, *, label: str, contract: Mapping[str, tuple[str, ...]]
) -> tuple[NotebookCode | None, list[Problem]]:
    """The Python source of a notebook: its code cells in order, each under a `# %% code cell N` header.

    IPython magics (`%...`) and shell escapes (`!...`) are commented out, and so are nbgrader's autograder-test
    cells (the release's own asserts, which the hidden graders replace); a cell that still does not parse is
    commented out whole and reported, so one broken cell does not stop the other cells' code from being
    graded (its `def`/`class` names still count as defined, so the module is written and the grader says what
    is missing). Returns None, with the problem, when the data is not a readable notebook. `label` names the
    notebook in messages; `contract` (`Course.contract`) tells which module a broken cell's definitions belong to.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [Problem(None, f"{label} is not UTF-8 text, so it is not a notebook: save it from Jupyter again")]
    try:
        document = json.loads(text)
    except ValueError:
        return None, [
            Problem(None, f"{label} is not valid JSON (is it truncated?): save the notebook from Jupyter again")
        ]
    except RecursionError:
        return None, [Problem(None, f"{label} is not a Jupyter notebook (nested too deeply): hand in your .ipynb file")]
    oversized = _oversized_notebook(document, label=label)
    if oversized is not None:
        return None, [oversized]
    # Imported here: nbformat's JSON-schema stack costs about 1 s, paid only by a class with notebooks.
    import nbformat

    validation: dict[str, Exception] = {}
    try:
        # Validates too; capturing the error spares a second validation of every cell.
        notebook = nbformat.reads(text, as_version=4, capture_validation_error=validation)
    except Exception as error:  # nbformat raises whatever its converters hit on JSON that is not a notebook
        return None, [Problem(None, f"{label} is not a Jupyter notebook ({_reason(error)}): hand in your .ipynb file")]
    problems: list[Problem] = []
    if "ValidationError" in validation:
        problems.append(
            Problem(
                None,
                f"{label} is not a valid Jupyter notebook ({_reason(validation['ValidationError'])}): "
                "open it in Jupyter, save it and hand it in again",
            )
        )
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return None, problems
    pieces = []
    defined: set[str] = set()
    cells_left_out = 0
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        raw = cell.get("source", "")
        cell_source = "".join(str(line) for line in raw) if isinstance(raw, list) else str(raw)
        if _is_nbgrader_grade_cell(cell):
            # The release's own checks: the hidden graders replace them, and one failing assert would stop
            # every module written from this notebook from importing.
            commented = "\n".join(f"# {line}" if line else "#" for line in cell_source.splitlines())
            pieces.append(f"# %% code cell {number} (nbgrader test cell, not run)\n{commented}\n")
            continue
        code, names, problem = _cell_code(cell_source, label=label, number=number, contract=contract)
        defined |= names
        if problem is not None:
            cells_left_out += 1
            if cells_left_out <= MAX_CELL_PROBLEMS_NAMED:
                problems.append(problem)
        pieces.append(f"# %% code cell {number}\n{code.rstrip()}\n")
    if cells_left_out > MAX_CELL_PROBLEMS_NAMED:
        problems.append(
            Problem(
                None,
                f"{label}: {cells_left_out - MAX_CELL_PROBLEMS_NAMED} more code cells do not parse and were left out: "
                "fix them, run the notebook from the top and hand it in again",
            )
        )
    return NotebookCode(source="\n".join(pieces), defined_names=frozenset(defined)), problems


def _oversized_notebook(document: object, *, label: str) -> Problem | None:
    """A problem when a notebook has more cells, outputs or code than intake reads; counted before nbformat runs."""
    if not isinstance(document, dict):
        return None  # nbformat says what it is
    cells: list[object] = []
    if isinstance(document.get("cells"), list):
        cells = document["cells"]
    elif isinstance(document.get("worksheets"), list):  # nbformat 3
        for worksheet in document["worksheets"]:
            if isinstance(worksheet, dict) and isinstance(worksheet.get("cells"), list):
                cells += worksheet["cells"]
                if len(cells) > MAX_NOTEBOOK_CELLS:
                    break
    advice = "save it and hand it in again"
    if len(cells) > MAX_NOTEBOOK_CELLS:
        return Problem(
            None,
            f"{label} has {len(cells):,} cells, more than the {MAX_NOTEBOOK_CELLS:,} a notebook may have; it was not "
            f"read: delete the cells you do not need (or copy your code into a fresh notebook), {advice}",
        )
    outputs = 0
    code_bytes = 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        if isinstance(cell.get("outputs"), list):
            outputs += len(cell["outputs"])
        if cell.get("cell_type") == "code":
            source = cell.get("source", cell.get("input", ""))
            lines = source if isinstance(source, list) else [source]
            code_bytes += sum(len(line.encode("utf-8", "surrogatepass")) for line in lines if isinstance(line, str))
    if outputs > MAX_NOTEBOOK_OUTPUTS:
        return Problem(
            None,
            f"{label} has {outputs:,} cell outputs, more than the {MAX_NOTEBOOK_OUTPUTS:,} a notebook may have; it was "
            f"not read: clear the notebook's outputs (Edit > Clear All Outputs), {advice}",
        )
    if code_bytes > MAX_SOURCE_BYTES:
        return Problem(
            None,
            f"{label} holds {_megabytes(code_bytes)} of code, more than the {_kilobytes(MAX_SOURCE_BYTES)} a hand-in's "
            f"code may be; it was not read: keep data and generated code out of the notebook's cells, {advice}",
        )
    return None


def _is_nbgrader_grade_cell(cell: dict[str, object]) -> bool:
    """An nbgrader autograder-tests cell: graded, read-only, holding no student solution."""
    metadata = cell.get("metadata")
    marks = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return isinstance(marks, dict) and marks.get("grade") is True and not marks.get("solution")


def _cell_code(
    source: str, *, label: str, number: int, contract: Mapping[str, tuple[str, ...]]
) -> tuple[str, set[str], Problem | None]:
    """A cell as plain Python and the names it defines; magics commented out, or all of it when it does not parse."""
    detail = "it cannot be parsed"
    for code in (source, _comment_out_magics(source)):
        try:
            tree = ast.parse(code)
        except SyntaxError as error:
            detail = f"SyntaxError at line {error.lineno}: {error.msg}"
            continue
        except (ValueError, RecursionError, MemoryError) as error:
            detail = _reason(error)
            continue
        collector = _ModuleLevelNames()
        collector.visit(tree)
        return code, collector.names, None
    first_line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    defined = set(_DEFINITION.findall(source))
    modules = [module for module, names in contract.items() if defined & set(names)]
    problem = Problem(
        modules[0] if len(modules) == 1 else None,
        f"{label}, code cell {number} (starting `{first_line[:60]}`): {detail}; the cell was left out: "
        "fix it, run the notebook from the top and hand it in again",
    )
    commented = "\n".join(f"# {line}" if line else "#" for line in source.splitlines())
    return commented, defined, problem


def _comment_out_magics(source: str) -> str:
    lines = source.splitlines()
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        if magic and magic[0] in PYTHON_CELL_MAGICS:
            lines[first] = f"# {lines[first].strip()}"
        else:
            return "\n".join(f"# {line}" for line in lines)
    converted = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            # Inside a block, `pass` keeps the block's body non-empty.
            converted.append(f"{indent}pass  # {stripped}" if indent else f"# {stripped}")
        else:
            converted.append(line)
    return "\n".join(converted)


class _ModuleLevelNames(ast.NodeVisitor):
    """Names defined at module level (def, class, assignment), not those inside functions; imports do not count."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.names.add(node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.names.add(node.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.add(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def visit_ListComp(self, node: ast.ListComp) -> None:
        return

    def visit_SetComp(self, node: ast.SetComp) -> None:
        return

    def visit_DictComp(self, node: ast.DictComp) -> None:
        return

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        return

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)


def _kilobytes(size: int) -> str:
    return f"{size // 1024:,} KB"


def _megabytes(size: int) -> str:
    # Rounded up, so a file just over a 1 MB limit never reads as "1.0 MB, over the 1 MB limit".
    return f"{math.ceil(size * 10 / (1024 * 1024)) / 10:.1f} MB"


def _reason(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())[:200]
