"""The late policy on its way through the kit: a Moodle download and its worksheet collected, graded, exported.

`late_penalty` (coursekit.grade.late) is the one rule; these tests hold `coursekit collect`, `coursekit grade` and
`coursekit export` to it. The Gradescope run's side is in tests/export/test_gradescope.py.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from lms_files import MOODLE_WORKSHEET_CSV, ROSTER_CSV, make_zip
from repo_paths import REPO

from coursekit.config import LatePolicy, load_course, parse_course
from coursekit.errors import CoursekitError
from coursekit.export.lms import export_grades
from coursekit.grade.engine import grade_class
from coursekit.grade.late import late_penalty
from coursekit.intake.collect import LATE_CSV, collect_download
from coursekit.intake.roster import parse_roster
from coursekit.intake.worksheet import parse_worksheet

MODULES = ("activations.py", "model.py", "training.py")
POLICY_YML = "\nlate_policy:\n  penalty_percent_per_day: 10\n  cutoff_days: 1\n"


@pytest.mark.parametrize(
    ("days", "late", "score", "deducted"),
    [
        (None, False, 90, 0),
        (1, True, 90, 10),
        (2, True, 90, 90),  # past the 1-day cutoff
        (None, True, 90, 10),  # late, how late unknown: 1 day
        (1, True, 4, 4),  # never below zero
    ],
)
def test_the_rule(days: int | None, late: bool, score: float, deducted: float) -> None:
    policy = LatePolicy(penalty_percent_per_day=10, cutoff_days=1)
    penalty = late_penalty(policy=policy, score=score, points=100, late=late, days=days)
    assert (penalty.deducted if penalty is not None else 0) == deducted


def test_a_policy_that_says_nothing_is_a_course_error() -> None:
    text = (REPO / "course.yml").read_text(encoding="utf-8")
    with pytest.raises(CoursekitError, match=r"late_policy: Value error, a late policy needs"):
        parse_course(text + "\nlate_policy: {}\n")
    with pytest.raises(CoursekitError, match=r"late_policy\.penalty_percent_per_day: Input should be less than"):
        parse_course(text + "\nlate_policy:\n  penalty_percent_per_day: 150\n")
    with pytest.raises(CoursekitError, match=r"late_policy\.cutoff_days: Input should be greater than or equal to 0"):
        parse_course(text + "\nlate_policy:\n  cutoff_days: -1\n")


def test_a_moodle_class_collected_graded_and_exported_under_a_late_policy(tmp_path: Path) -> None:
    course_dir = tmp_path / "course"
    for folder in ("graders", "data"):
        shutil.copytree(REPO / folder, course_dir / folder, ignore=shutil.ignore_patterns("__pycache__", "mutants"))
    (course_dir / "course.yml").write_text((REPO / "course.yml").read_text(encoding="utf-8") + POLICY_YML)
    course = load_course(course_dir / "course.yml")
    solution = {name: (REPO / "solutions" / name).read_bytes() for name in MODULES}
    members = {
        f"{full_name}_{participant}_assignsubmission_file_/{name}": data
        for full_name, participant in (("Alice Moreau", 7301), ("Bob Okafor", 7302), ("Dave Kowalski", 7304))
        for name, data in solution.items()
    }
    download = make_zip(tmp_path / "download.zip", members)
    worksheet = parse_worksheet(MOODLE_WORKSHEET_CSV, source="worksheet.csv")
    roster = parse_roster(ROSTER_CSV)
    submissions = tmp_path / "submissions"

    report = collect_download(download=download, lms="moodle", out_dir=submissions, roster=roster, worksheet=worksheet)
    # The worksheet's Status: on time; "1 day 2 hours late"; "5 mins 3 secs late".
    assert [(entry.student, entry.late, entry.days_late) for entry in report.entries] == [
        ("alice", False, None),
        ("bob", True, 2),
        ("dave", True, 1),
    ]
    assert (submissions / LATE_CSV).read_text() == "student,late,days_late\nalice,0,\nbob,1,2\ndave,1,1\n"

    out = tmp_path / "out"
    grade_class(course_dir=course_dir, submissions_dir=submissions, out_dir=out, jobs=2)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    # 10% of 100 points per day, and nothing past 1 day late.
    assert {student: (row["total"], row["late_penalty"]) for student, row in rows.items()} == {
        "alice": ("100", "0"),
        "bob": ("0", "100"),
        "dave": ("90", "10"),
    }
    assert json.loads((out / "results" / "dave.json").read_text())["score"] == 90
    dave = (out / "feedback" / "dave.md").read_text()
    assert "dave: 90 / 100 points" in dave
    assert (
        "Handed in 1 day late; the late policy deducts 10% of the 100 points per day late. 10 points deducted." in dave
    )
    bob = (out / "feedback" / "bob.md").read_text()
    assert "Handed in 2 days late; past the late policy's cutoff of 1 day, it scores 0. 100 points deducted." in bob
    assert "Handed in" not in (out / "feedback" / "alice.md").read_text()

    dest = tmp_path / "filled.csv"
    export_grades(out_dir=out, to="moodle", course=course, dest=dest, roster=roster, worksheet=worksheet)
    filled = parse_worksheet(dest.read_text(encoding="utf-8"))
    grades = {row.participant_id: filled.cell(row, "Grade") for row in filled.rows}
    assert (grades["7301"], grades["7302"], grades["7304"]) == ("10", "0", "9")


def test_the_readmes_late_policy_is_a_valid_course_yml() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = next(part for part in readme.split("```yaml\n")[1:] if part.startswith("late_policy:"))
    text = (REPO / "course.yml").read_text(encoding="utf-8") + "\n" + block.split("```")[0]
    assert parse_course(text).late_policy == LatePolicy(penalty_percent_per_day=10, cutoff_days=3)
