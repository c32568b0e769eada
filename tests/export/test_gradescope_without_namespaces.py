"""Gradescope's autograder where bubblewrap cannot start, as in Gradescope's Docker containers.

A stand-in `bwrap` on PATH fails the way bubblewrap fails there ("No permissions to create new namespace"), so
`run_autograder` grades in the uid tier (root: an unprivileged uid per slot, Landlock, seccomp).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from repo_paths import HOSTILE_SNIPPETS, REPO
from stand_ins import failing_bwrap

from coursekit.export import gradescope
from coursekit.export.gradescope import build_autograder_zip
from coursekit.sandbox.pool import uid_tier_problem

MODULES = ("activations.py", "model.py", "training.py")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(uid_tier_problem() is not None, reason=f"no uid tier here: {uid_tier_problem()}"),
]


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_autograder_zip(course_dir=REPO, dest=tmp_path_factory.mktemp("build"))


def _grade(autograder_zip: Path, root: Path, files: dict[str, str]) -> tuple[dict, subprocess.CompletedProcess[str]]:
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text, encoding="utf-8")
    stand_in = failing_bwrap(root.parent / "docker-bin")
    env = {
        **os.environ,
        "PATH": f"{stand_in}:{os.environ['PATH']}",
        "AUTOGRADER_ROOT": str(root),
        "COURSEKIT_PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((root / "results" / "results.json").read_text()), result


def _sources(origin: str) -> dict[str, str]:
    return {name: (REPO / origin / name).read_text(encoding="utf-8") for name in MODULES}


def test_a_correct_submission_gets_full_marks_in_the_uid_tier(autograder_zip: Path, tmp_path: Path) -> None:
    results, _ = _grade(autograder_zip, tmp_path / "autograder", _sources("solutions"))
    assert results["score"] == 100
    assert results["extra_data"]["isolation"] == "uid"


def test_a_broken_submission_gets_zero_with_the_reason(autograder_zip: Path, tmp_path: Path) -> None:
    results, _ = _grade(autograder_zip, tmp_path / "autograder", {"model.py": "class TemperatureNet(nn.Module)\n"})
    assert results["score"] == 0
    assert "model.py: SyntaxError at line 1" in results["output"]


def test_a_forger_scores_what_the_stubs_score_and_sees_no_grader(autograder_zip: Path, tmp_path: Path) -> None:
    stubs, _ = _grade(autograder_zip, tmp_path / "stubs", _sources("exercises"))
    files = _sources("exercises")
    files["activations.py"] = (HOSTILE_SNIPPETS / "gradescope_forger.py").read_text() + files["activations.py"]
    root = tmp_path / "forger"
    results, run = _grade(autograder_zip, root, files)
    time.sleep(2)  # its detached process, had it survived, would have rewritten the file by now
    final = json.loads((root / "results" / "results.json").read_text())
    assert final == results
    assert final["score"] == stubs["score"] == 0
    text = json.dumps(final) + run.stdout + run.stderr
    assert "FOUND GRADER" not in text
    grader_lines = {
        line.strip()
        for path in (REPO / "graders").glob("test_*.py")
        for line in path.read_text().splitlines()
        if len(line.strip()) > 30 and not line.strip().startswith(('"""', "#", "@pytest"))
    }
    assert not [line for line in grader_lines if line in text]


def test_the_entry_point_refuses_to_grade_below_the_uid_tier(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, autograder_zip: Path
) -> None:
    # A container where neither bubblewrap nor the uid tier can run (no Landlock, say).
    monkeypatch.setenv("PATH", f"{failing_bwrap(tmp_path / 'docker-bin')}:{os.environ['PATH']}")
    monkeypatch.setattr("coursekit.sandbox.pool.uid_tier_problem", lambda: "Landlock is disabled in this kernel")
    from coursekit.sandbox import bwrap

    bwrap.bwrap_problem.cache_clear()
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    for name, text in _sources("solutions").items():
        (root / "submission" / name).write_text(text)
    try:
        path = gradescope.run_gradescope_submission(root=root, course_dir=root / "source").results_path
    finally:
        bwrap.bwrap_problem.cache_clear()
    results = json.loads(path.read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "grading is unavailable" in results["output"].lower()
    assert "Landlock is disabled in this kernel" in results["extra_data"]["isolation_problem"]
