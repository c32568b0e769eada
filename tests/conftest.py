"""Fixtures every folder of the tool's tests shares: the repository and its course."""

from pathlib import Path

import pytest
from repo_paths import COURSE_YML, REPO

from coursekit.config import Course, load_course


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (course.yml, solutions/, graders/, exercises/)."""
    return REPO


@pytest.fixture(scope="session")
def course() -> Course:
    """The repository's course, loaded and validated once."""
    return load_course(COURSE_YML)
