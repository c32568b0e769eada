"""Decoder bombs in a class: every answer of four hand-ins is built to exhaust the memory of the trusted process
that reads it. Each bomb scores what the stubs score; every one of 20 correct hand-ins graded beside them keeps
full marks. The whole batch runs under a memory limit, so a bomb that got through fails this test instead of
taking the machine down.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from memory_limit import run_under_memory_limit
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.config import load_course
from coursekit.sandbox import bwrap

MALICIOUS = HOSTILE_SNIPPETS
MODULES = ("activations.py", "model.py", "training.py")
COURSE = load_course(REPO / "course.yml")
BOMBS = ("deflate", "shared", "expand", "strings")
CORRECT = 20
# The batch needs about 3 GB (two grading processes, two sandboxed workers, the main process); a bomb that is
# inflated on the trusted side needs more than this.
MEMORY_LIMIT_MB = 6144

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sandbox,
    pytest.mark.skipif(bwrap.bwrap_problem() is not None, reason=f"no sandbox here: {bwrap.bwrap_problem()}"),
]


def test_decoder_bombs_cost_only_their_own_handins(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    solutions = {name: (REPO / "solutions" / name).read_text() for name in MODULES}
    for index in range(CORRECT):
        folder = submissions / f"correct_{index:02d}"
        folder.mkdir(parents=True)
        for name, text in solutions.items():
            (folder / name).write_text(text)
    bomb_source = (MALICIOUS / "wire_bombs.py").read_text()
    for kind in BOMBS:
        folder = submissions / f"bomb_{kind}"
        folder.mkdir(parents=True)
        for name, text in solutions.items():
            (folder / name).write_text(f"BOMB = {kind!r}\n{bomb_source}\n{text}")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out)]
    command += ["--jobs", "2", "--isolation", "bwrap", "--time-limit", "30"]
    result = run_under_memory_limit(command, limit_mb=MEMORY_LIMIT_MB, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (out / "grades.csv").open(newline="") as file:
        rows = {row["student"]: row for row in csv.DictReader(file)}
    assert len(rows) == CORRECT + len(BOMBS)
    for index in range(CORRECT):
        assert float(rows[f"correct_{index:02d}"]["total"]) == COURSE.assignment.points, rows[f"correct_{index:02d}"]
    for kind in BOMBS:
        row = rows[f"bomb_{kind}"]
        assert float(row["total"]) == 0.0, row  # what the unmodified stubs score
        assert "not graded" not in row["errors"], row
    for path in (out / "results").glob("*.json"):
        assert path.stat().st_size < 1_000_000, path
