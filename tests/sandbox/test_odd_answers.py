"""Forged answers of every odd form: the graders never raise on them (a grader error would stop the course's
batch or tell the student their instructor's course is broken), and a correct hand-in beside them keeps 100."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.config import load_course
from coursekit.grade.engine import grade_class
from coursekit.sandbox import bwrap

MODULES = ("activations.py", "model.py", "training.py")
COURSE = load_course(REPO / "course.yml")
SEEDS = range(4)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap.bwrap_problem() is not None, reason=f"no sandbox here: {bwrap.bwrap_problem()}"),
]


def test_odd_answers_are_the_students_failure_never_a_grader_error(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    solutions = {name: (REPO / "solutions" / name).read_text() for name in MODULES}
    odd = (HOSTILE_SNIPPETS / "odd_answers.py").read_text()
    handins = {"correct": solutions} | {
        f"odd_{seed}": {name: f"ODD_SEED = {seed}\n{odd}\n{text}" for name, text in solutions.items()} for seed in SEEDS
    }
    for student, sources in handins.items():
        (submissions / student).mkdir(parents=True)
        for name, text in sources.items():
            (submissions / student / name).write_text(text)
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=tmp_path / "out", jobs=2)
    results = {result.student_id: result for result in report.results}
    assert results["correct"].score == COURSE.assignment.points
    for seed in SEEDS:
        result = results[f"odd_{seed}"]
        assert result.grader_errors == [], (seed, result.grader_errors)
        assert result.not_graded is None
        assert result.score < COURSE.assignment.points
        data = json.loads((tmp_path / "out" / "results" / f"odd_{seed}.json").read_text())
        assert "instructor has been told" not in json.dumps(data)
