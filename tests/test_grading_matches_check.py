"""Class grading (sandboxed workers) gives every mutant exactly the points `coursekit check` (in-process) gives it.

The two paths share the graders but not the process model: one runs the student's code in the grader's own
process, the other behind the trust boundary. Every mutant of graders/mutants/ is graded both ways.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from coursekit.check.checker import check_course, load_mutants, write_mutant_handin
from coursekit.config import load_course
from coursekit.grade.engine import grade_class

REPO = Path(__file__).resolve().parents[1]
COURSE = load_course(REPO / "course.yml")


@pytest.mark.slow
def test_every_mutant_gets_the_same_points_both_ways(tmp_path: Path) -> None:
    report = check_course(course_dir=REPO)
    assert report.ok, report.problems
    in_process = {
        row.handin.removeprefix("mutant "): {part: score for part, (score, _) in row.points.items()}
        for row in report.rows
        if row.part is not None
    }
    mutants, problems = load_mutants(
        mutants_dir=REPO / "graders" / "mutants", course=COURSE, solutions_dir=REPO / "solutions"
    )
    assert not problems
    submissions = tmp_path / "submissions"
    for mutant in mutants:
        target = write_mutant_handin(
            mutant=mutant,
            solutions_dir=REPO / "solutions",
            data_dir=tmp_path / "no-data",
            target=submissions / mutant.name,
        )
        assert {path.name for path in target.iterdir()} >= {"activations.py", "model.py", "training.py"}
    grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=tmp_path / "out", jobs=2)
    with (tmp_path / "out" / "grades.csv").open(newline="") as file:
        sandboxed = {
            row["student"]: {part.id: float(row[part.id]) for part in COURSE.assignment.parts}
            for row in csv.DictReader(file)
        }
    assert set(sandboxed) == set(in_process) == {mutant.name for mutant in mutants}
    differing = {name: (in_process[name], sandboxed[name]) for name in sandboxed if sandboxed[name] != in_process[name]}
    assert not differing
