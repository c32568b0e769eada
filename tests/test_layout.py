"""The tool knows no chapter: nothing under coursekit/ names a course's exercises, files or data.

Everything chapter-specific lives on the course side (course.yml, solutions/, graders/, data/, exercises/), so a new
chapter is new content. Checked for every course in the repository: the bundled one and the test fixtures.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from coursekit.config import load_course

REPO = Path(__file__).resolve().parents[1]
COURSES = [REPO, *sorted(path.parent for path in (REPO / "tests" / "courses").glob("*/course.yml"))]


def contract_names(course_dir: Path) -> set[str]:
    """The names a course's contract spells: exercise names, the parts' files, the given modules and the data."""
    course = load_course(course_dir / "course.yml")
    names = {exercise.name for part in course.assignment.parts for exercise in part.exercises}
    for file in [part.file for part in course.assignment.parts] + course.given + course.data:
        path = PurePosixPath(file)
        names |= {path.name, path.stem} if path.stem not in ENGLISH_STEMS else {path.name}
    return names


# File stems that are plain words of the tool's own vocabulary: only their file names count ("model.py").
ENGLISH_STEMS = frozenset({"model", "training", "learning", "data"})


@pytest.mark.parametrize("course_dir", COURSES, ids=lambda path: path.name)
def test_the_tool_names_nothing_of_a_course(course_dir: Path) -> None:
    names = contract_names(course_dir)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    found = []
    for path in sorted((REPO / "coursekit").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".j2", ".html", ".md", ".txt", ".css"}:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if match := pattern.search(line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {match.group(1)}: {line.strip()[:100]}")
    assert not found, "\n".join(found)
