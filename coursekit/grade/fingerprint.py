"""What a result was graded with: course.yml, the graders, the kit's version and the hand-in's content.

Each results file records a `Fingerprint`; a re-run of `coursekit grade` without --force regrades every student
whose fingerprint differs from what the batch would grade with now, and names what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import coursekit
from coursekit.config import Course

# graders/ holds more than what grading runs: the mutants (only `coursekit check` reads them) and the notebook's
# test cells (only nbgrader runs them). A change there changes no grade.
MUTANTS_FOLDER = "mutants"
_IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """sha256 digests (hex) of what a hand-in was graded with."""

    course: str
    graders: str
    kit: str
    handin: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Fingerprint | None:
        """Read back from a results file; None when there is none or it is not one."""
        if not isinstance(data, dict):
            return None
        fields = [field.name for field in dataclasses.fields(cls)]
        if not all(isinstance(data.get(name), str) for name in fields):
            return None
        return cls(**{name: data[name] for name in fields})

    def changes_from(self, earlier: Fingerprint | None) -> list[str]:
        """What differs from `earlier`: "course.yml changed", "graders changed", "kit version changed", "hand-in
        changed", or "no fingerprint" for a result written without one."""
        if earlier is None:
            return ["no fingerprint"]
        names = {"course": "course.yml", "graders": "graders", "kit": "kit version", "handin": "hand-in"}
        return [f"{name} changed" for field, name in names.items() if getattr(self, field) != getattr(earlier, field)]


@dataclasses.dataclass(frozen=True)
class CourseFingerprint:
    """The part of a fingerprint every hand-in of a batch shares."""

    course: str
    graders: str
    kit: str

    def with_handin(self, handin: str) -> Fingerprint:
        return Fingerprint(course=self.course, graders=self.graders, kit=self.kit, handin=handin)


def course_fingerprint(course_dir: Path, course: Course) -> CourseFingerprint:
    """Digests of course.yml, of everything grading reads beside it (graders/ but its mutants and the notebook's finale,
    the given modules, the data, the probes and the figure module), and of the kit's version."""
    graders = course_dir / "graders"
    skipped = {graders / MUTANTS_FOLDER}
    if course.chapter.notebook_finale is not None:
        skipped.add(course_dir / course.chapter.notebook_finale)
    files = [path for path in files_below(graders) if not any(path.is_relative_to(s) for s in skipped)]
    chapter = course.chapter
    extra = [*course.given, *course.data, *(p for p in (chapter.probes, chapter.figure) if p is not None)]
    files += [course_dir / path for path in extra]
    return CourseFingerprint(
        course=digest_files([course_dir / "course.yml"], root=course_dir),
        graders=digest_files(sorted(set(files)), root=course_dir),
        kit=hashlib.sha256(coursekit.__version__.encode()).hexdigest(),
    )


def handin_fingerprint(source: Path) -> str:
    """A digest of a hand-in as it sits in the submissions folder: a file's bytes, or a folder's files and links
    (never followed) by relative path."""
    if source.is_file() and not source.is_symlink():
        return digest_files([source], root=source.parent)
    return digest_files(files_below(source), root=source)


def files_below(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted, links not followed, caches left out."""
    found: list[Path] = []
    for parent, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_NAMES)
        found += (Path(parent) / name for name in sorted(names) if not name.endswith(".pyc"))
    return found


def digest_files(paths: Iterable[Path], *, root: Path) -> str:
    """sha256 over each file's path relative to `root` and its content (a link: its target's name, unread)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"link\0" + os.readlink(path).encode("utf-8", "surrogateescape"))
        elif path.is_file():
            with path.open("rb") as file:
                digest.update(hashlib.file_digest(file, "sha256").digest())
        else:
            digest.update(b"missing")
        digest.update(b"\0")
    return digest.hexdigest()
