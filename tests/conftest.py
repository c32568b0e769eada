"""Fixtures every folder of the tool's tests shares: the repository and its course."""

from pathlib import Path

import pytest
import torch
from repo_paths import COURSE_YML, REPO

from coursekit.config import Course, load_course

# Tests fork children that train with torch's threads, as the warm worker forks its children. GNU OpenMP hangs in a
# child forked after the parent used its thread pool, so this process, like the warm worker, never starts one.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (course.yml, solutions/, graders/, exercises/)."""
    return REPO


@pytest.fixture(scope="session")
def course() -> Course:
    """The repository's course, loaded and validated once."""
    return load_course(COURSE_YML)
