"""The public tests in exercises/, run the way a student runs them: `pytest` inside the released folder.

On the stubs every test must fail with its own exercise's NotImplementedError (a student meets no other
kind of error); with the reference solutions copied in, every test must pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.author.release import collect_student_files
from coursekit.config import load_course

TEST_NAME = re.compile(r"^test_(\d+)_(\d+)_\w+$")


@dataclass(frozen=True)
class Outcome:
    name: str
    # "passed", "failure", "error" or "skipped"
    kind: str
    message: str


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """The student folder as the release ships it (stubs, public tests, generated pytest.ini and plugin, data)."""
    folder = tmp_path / "exercises"
    for name, content in collect_student_files(course_dir=REPO, course=load_course(REPO / "course.yml")).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


def run_public_suite(folder: Path, report: Path) -> tuple[int, list[Outcome]]:
    """Run the student's `pytest` (the console script) in `folder`; return its exit code and one outcome per test."""
    pytest_script = Path(sys.executable).parent / "pytest"
    # A student's shell has no PYTHONPATH pointing into the course repository.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST"))}
    completed = subprocess.run(
        [str(pytest_script), "-q", f"--junitxml={report}"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.is_file(), f"pytest wrote no report:\n{completed.stdout}\n{completed.stderr}"
    outcomes = []
    for case in ET.parse(report).getroot().iter("testcase"):
        children = [child for child in case if child.tag in ("failure", "error", "skipped")]
        kind = children[0].tag if children else "passed"
        message = (children[0].get("message") or "") if children else ""
        outcomes.append(Outcome(name=case.get("name", ""), kind=kind, message=message))
    return completed.returncode, outcomes


def exercise_id(test_name: str) -> str:
    match = TEST_NAME.match(test_name)
    assert match, f"public test {test_name!r} does not start with its exercise id (test_1_2_...)"
    return f"{match[1]}.{match[2]}"


def test_every_public_test_fails_on_the_stubs_with_its_exercise_message(release: Path, tmp_path: Path) -> None:
    before = files_under(release)
    returncode, outcomes = run_public_suite(release, tmp_path / "report.xml")

    assert returncode == 1, f"pytest should report failed tests (exit code 1), got {returncode}"
    assert outcomes, "the public suite collected no tests"
    for outcome in outcomes:
        expected = f"NotImplementedError: Exercise {exercise_id(outcome.name)}: implement "
        assert outcome.kind == "failure", f"{outcome.name}: expected a test failure, got {outcome.kind}: {outcome}"
        assert outcome.message.startswith(expected), (
            f"{outcome.name} should fail with {expected!r}..., got {outcome.message!r}"
        )

    course = load_course(REPO / "course.yml")
    all_ids = {exercise.id for part in course.assignment.parts for exercise in part.exercises}
    assert {exercise_id(outcome.name) for outcome in outcomes} == all_ids, "every exercise needs a public test"
    # -p no:cacheprovider and conftest.py's sys.dont_write_bytecode: running the tests adds nothing to the
    # student's folder but conftest.py's own bytecode, compiled before it can switch bytecode off.
    added = sorted(str(path) for path in files_under(release) - before)
    assert all(re.fullmatch(r"__pycache__(/conftest\.[\w.-]+\.pyc)?", path) for path in added), added


def test_every_public_test_passes_with_the_solutions(release: Path, tmp_path: Path) -> None:
    for solution in (REPO / "solutions").glob("*.py"):
        shutil.copy(solution, release / solution.name)
    returncode, outcomes = run_public_suite(release, tmp_path / "report.xml")

    failed = [outcome for outcome in outcomes if outcome.kind != "passed"]
    assert not failed, "with the reference solutions every public test should pass:\n" + "\n".join(map(str, failed))
    assert returncode == 0
    assert len(outcomes) >= 30, f"expected the whole public suite to run, got {len(outcomes)} tests"
