"""A grading process that dies costs the hand-in it was grading, and no other.

The grading process is trusted and never runs student code, but it can still die: the kernel's OOM killer, a
bug in torch. Here it is killed from outside, with SIGKILL, while it grades one hand-in of a class.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.config import load_course
from coursekit.export.lms import export_grades
from coursekit.grade.engine import grade_class
from coursekit.grade.results import NOT_GRADED, GradesCsvError
from coursekit.sandbox import bwrap

MODULES = ("activations.py", "model.py", "training.py")
COURSE = load_course(REPO / "course.yml")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap.bwrap_problem() is not None, reason=f"no sandbox here: {bwrap.bwrap_problem()}"),
]

# A correct hand-in whose tanh pauses 3 s once: graded last, it is mid-pause a second after the others are written.
PAUSE = """

def _pause_once():
    import os, time
    if not os.path.exists("/tmp/paused"):
        open("/tmp/paused", "w").close()
        time.sleep(3)


_correct_tanh = tanh


def tanh(x):
    _pause_once()
    return _correct_tanh(x)
"""


def _write(folder: Path, sources: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_a_killed_grading_process_costs_only_its_handin(tmp_path: Path) -> None:
    solutions = {name: (REPO / "solutions" / name).read_text() for name in MODULES}
    submissions = tmp_path / "submissions"
    for index in range(3):
        _write(submissions / f"correct_{index}", solutions)
    _write(
        submissions / "victim",
        {**solutions, "activations.py": solutions["activations.py"] + PAUSE},
    )
    out = tmp_path / "out"

    killed: list[int] = []

    def kill_the_grading_process_of_the_victim() -> None:
        deadline = time.monotonic() + 300
        written = [out / "results" / f"correct_{index}.json" for index in range(3)]
        while not all(path.exists() for path in written) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1)  # the victim, graded next, is in its pause
        for child in multiprocessing.active_children():  # with one job, one grading process
            os.kill(child.pid, signal.SIGKILL)
            killed.append(child.pid)

    killer = threading.Thread(target=kill_the_grading_process_of_the_victim)
    killer.start()
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=out, jobs=1, isolation="bwrap")
    killer.join()
    assert killed, "the victim was never graded"
    scores = {result.student_id: result for result in report.results}
    for index in range(3):
        assert scores[f"correct_{index}"].score == COURSE.assignment.points
        assert scores[f"correct_{index}"].not_graded is None
    victim = scores["victim"]
    assert victim.not_graded is not None and "grading process died" in victim.not_graded
    assert "SIGKILL" in victim.not_graded
    assert victim.verdicts == ()
    correct = json.loads((out / "results" / "correct_0.json").read_text())
    assert correct["extra_data"]["isolation"] == "bwrap"
    results = json.loads((out / "results" / "victim.json").read_text())
    assert results["extra_data"]["not_graded"] == victim.not_graded
    grades = (out / "grades.csv").read_text().splitlines()
    victim_row = next(line for line in grades if line.startswith("victim,"))
    assert f",{NOT_GRADED}," in victim_row
    with pytest.raises(GradesCsvError, match="victim is not graded"):
        export_grades(out_dir=out, to="csv", course=COURSE, dest=tmp_path / "export")

    # A plain re-run grades the victim again, and only the victim.
    again = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=out, jobs=1, isolation="bwrap")
    assert again.graded == ["victim"]
    assert {result.student_id: result.score for result in again.results}["victim"] == COURSE.assignment.points
