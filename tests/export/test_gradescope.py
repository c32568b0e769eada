"""Gradescope's autograder.zip, run as Gradescope runs it, in a stand-in /autograder folder.

The zip is unpacked into AUTOGRADER_ROOT/source and `run_autograder` grades AUTOGRADER_ROOT/submission with
this machine's Python, where it can be, in a fresh memory cgroup holding Gradescope's default 768 MB (setup.sh,
which installs Python on Gradescope's image, is checked but not run; its isolation report is run).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from memory_limit import memory_cgroup
from repo_paths import REPO
from stand_ins import failing_bwrap

from coursekit.config import load_course
from coursekit.export.gradescope import (
    KIT_MEMORY_MB,
    MIN_GRADING_MEMORY_MB,
    MIN_STUDENT_MEMORY_MB,
    PYTORCH_CPU_INDEX,
    AutograderSourceError,
    autograder_install_arguments,
    build_autograder_zip,
    container_memory_limit_mb,
    limits_within_container,
    submission_lateness,
    torch_cpu_requirement,
)
from coursekit.intake.collect import ON_TIME, Lateness
from coursekit.sandbox.pool import uid_tier_problem

MODULES = ("activations.py", "model.py", "training.py")
# Gradescope's default memory for an autograder container (its documentation, "Troubleshooting").
GRADESCOPE_MEMORY_MB = 768
LIMITS = load_course(REPO / "course.yml").limits


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_autograder_zip(course_dir=REPO, dest=tmp_path_factory.mktemp("build"))


def test_the_zip_holds_the_graders_and_no_solution(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "course.yml", "pyproject.toml", "graders/test_training.py"} <= names
    assert "coursekit/grade/engine.py" in names and "data/temperature.csv" in names
    assert not [name for name in names if name.startswith("solutions/")] and "data/temperature_data.py" in names
    assert not [name for name in names if name.startswith(("graders/mutants/", "exercises/", "tests/"))]
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "python3.11" in setup and "bubblewrap" in setup


def _setup_sh(autograder_zip: Path) -> list[str]:
    with zipfile.ZipFile(autograder_zip) as archive:
        return archive.read("setup.sh").decode().splitlines()


def test_setup_sh_installs_torchs_cpu_build_and_the_kit_without_extras(autograder_zip: Path) -> None:
    pin = next(
        d
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("torch")
    )
    arguments = autograder_install_arguments(source="/autograder/source", pyproject=REPO / "pyproject.toml")
    assert (
        arguments[:2] == ["--index-url", PYTORCH_CPU_INDEX]
        and PYTORCH_CPU_INDEX == "https://download.pytorch.org/whl/cpu"
    )
    assert arguments[2:4] == ["--extra-index-url", "https://pypi.org/simple"]
    # pyproject's pin, with the local version only PyTorch's CPU wheels carry: never the CUDA build.
    assert arguments[4] == pin + "+cpu" and pin.startswith("torch==")
    # The kit itself, with no extra: the nbgrader extra (Jupyter) stays out of the image.
    assert arguments[5:] == ["/autograder/source"]
    installs = [line for line in _setup_sh(autograder_zip) if " install " in line and "/autograder/source" in line]
    assert len(installs) == 1 and shlex.split(installs[0])[-len(arguments) :] == arguments


def test_the_autograder_needs_an_exact_torch_pin(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["numpy==2.4.6", "torch==2.13.0+cpu"]\n')
    assert torch_cpu_requirement(pyproject) == "torch==2.13.0+cpu"
    pyproject.write_text('[project]\ndependencies = ["torch>=2.13"]\n')
    with pytest.raises(AutograderSourceError, match="torch must be pinned exactly"):
        torch_cpu_requirement(pyproject)


def test_setup_sh_reports_the_isolation_tier_and_never_fails_the_build(autograder_zip: Path, tmp_path: Path) -> None:
    (report,) = [line for line in _setup_sh(autograder_zip) if "-m coursekit isolation" in line]
    fake_bin = failing_bwrap(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    # As root with Landlock, the uid tier; elsewhere none that keeps the promises.
    tier = "isolation: uid" if uid_tier_problem() is None else "isolation: none that keeps the kit's promises"
    for python, expected in ((sys.executable, tier), ("false", "could not run")):
        script = "set -euo pipefail\n" + report.replace("/autograder/venv/bin/python", python)
        result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and expected in result.stdout, result.stdout + result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "coursekit", "isolation"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "bubblewrap cannot create namespaces here: bwrap: No permissions" in result.stdout


def _grade(autograder_zip: Path, root: Path, files: dict[str, str]) -> dict:
    return _grade_in_container(autograder_zip, root, files, memory_mb=None)[0]


def _grade_in_container(
    autograder_zip: Path,
    root: Path,
    files: dict[str, str],
    *,
    memory_mb: int | None,
    needs_limit: bool = False,
    course_yml_extra: str = "",
    metadata: dict | None = None,
) -> tuple[dict, bool]:
    """(results.json for `files` handed in, whether run_autograder ran in a memory cgroup of `memory_mb`).

    Where no cgroup can be made it runs without one, or the test is skipped if it `needs_limit`. `course_yml_extra`
    is added to the autograder's course.yml, `metadata` written as Gradescope's submission_metadata.json.
    """
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    if course_yml_extra:
        with (root / "source" / "course.yml").open("a", encoding="utf-8") as course_yml:
            course_yml.write(course_yml_extra)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    submission = root / "submission"
    submission.mkdir(parents=True)
    for name, text in files.items():
        (submission / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSEKIT_PYTHON": sys.executable}
    command = ["bash", str(root / "source" / "run_autograder")]
    container = memory_cgroup(memory_mb * 1024 * 1024) if memory_mb is not None else contextlib.nullcontext(None)
    with container as procs:
        if procs is None and needs_limit:
            pytest.skip("no memory cgroup can be made here to stand in for Gradescope's container")
        if procs is not None:
            command = ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *command]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((root / "results" / "results.json").read_text()), procs is not None


def _solutions() -> dict[str, str]:
    return {name: (REPO / "solutions" / name).read_text(encoding="utf-8") for name in MODULES}


def test_a_correct_submission_gets_full_marks_in_gradescopes_default_memory(
    autograder_zip: Path, tmp_path: Path
) -> None:
    results, limited = _grade_in_container(
        autograder_zip, tmp_path / "autograder", _solutions(), memory_mb=GRADESCOPE_MEMORY_MB
    )
    assert results["score"] == 100
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    assert all(test["status"] == "passed" for test in results["tests"])
    # In the 768 MB container, the kit's budgets were lowered to fit beside it, and the instructor is told.
    memory = results["extra_data"]["memory"]
    if limited:
        assert f"memory limit is {GRADESCOPE_MEMORY_MB} MB" in memory["note"]
        assert memory["student_mb"] + memory["grading_mb"] <= max(
            GRADESCOPE_MEMORY_MB - KIT_MEMORY_MB, MIN_STUDENT_MEMORY_MB + MIN_GRADING_MEMORY_MB
        )
    # The checks that mirror the public tests are shown now, the rest after the due date; the fit at once.
    public = [test for test in results["tests"] if test["extra_data"]["public"]]
    assert public and {test["visibility"] for test in public} == {"visible"}
    assert {test["visibility"] for test in results["tests"] if test not in public} == {"after_due_date"}
    assert results["stdout_visibility"] == "hidden"
    # The picture, embedded, under course.yml's caption.
    caption = load_course(REPO / "course.yml").chapter.figure_caption
    assert f"![{caption}](data:image/png;base64,iVBORw0KGgo" in results["output"]


def test_a_hand_in_that_allocates_without_end_loses_its_part_not_the_run(autograder_zip: Path, tmp_path: Path) -> None:
    files = _solutions()
    files["training.py"] += "\n_HOARD = []\nwhile True:\n    _HOARD.append(bytearray(16 * 1024 * 1024))\n"
    results, _ = _grade_in_container(
        autograder_zip, tmp_path / "autograder", files, memory_mb=GRADESCOPE_MEMORY_MB, needs_limit=True
    )
    by_part: dict[str, float] = {}
    for test in results["tests"]:
        by_part[test["tags"][0]] = by_part.get(test["tags"][0], 0) + test["score"]
    assert by_part == {"activations": 30, "model": 30, "training": 0}
    # Stopped by the kit's own memory limit, which says why, not by the container's OOM killer.
    assert all("MemoryError" in test["output"] for test in results["tests"] if test["tags"][0] == "training")


def test_a_buggy_submission_loses_points_in_its_part(autograder_zip: Path, tmp_path: Path) -> None:
    mutants = yaml.safe_load((REPO / "graders" / "mutants" / "training.yml").read_text())
    missing_zero_grad = next(m for m in mutants if m["name"] == "missing-zero-grad")
    files = _solutions()
    files["training.py"] = files["training.py"].replace(missing_zero_grad["replace"], missing_zero_grad["with"], 1)
    results = _grade(autograder_zip, tmp_path / "autograder", files)
    by_part: dict[str, float] = {}
    for test in results["tests"]:
        by_part[test["tags"][0]] = by_part.get(test["tags"][0], 0) + test["score"]
    assert by_part["activations"] == 30 and by_part["model"] == 30 and by_part["training"] < 40
    failed = [test for test in results["tests"] if test["status"] == "failed"]
    assert any("zero_grad" in test["output"] for test in failed)
    # The hints that would give the answer away are shown after the due date.
    assert {test["visibility"] for test in failed} == {"after_due_date"}


def test_a_broken_submission_gets_zero_with_the_reason(autograder_zip: Path, tmp_path: Path) -> None:
    files = {"model.py": "class TemperatureNet(nn.Module)\n    pass\n"}
    results = _grade(autograder_zip, tmp_path / "autograder", files)
    assert results["score"] == 0
    assert "model.py: SyntaxError at line 1" in results["output"]
    assert "activations.py was not handed in" in results["output"]


def _cgroup_tree(tmp_path: Path, proc_line: str, limits: dict[str, str]) -> int | None:
    tmp_path.mkdir()
    proc = tmp_path / "cgroup"
    proc.write_text(proc_line + "\n")
    for relative, text in limits.items():
        (tmp_path / "sys" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "sys" / relative).write_text(text + "\n")
    return container_memory_limit_mb(proc_cgroup=proc, cgroup_root=tmp_path / "sys")


def test_the_containers_memory_limit_is_read_from_its_cgroup(tmp_path: Path) -> None:
    mb = 1024 * 1024
    # cgroup v2 inside a Docker container: its own group at the root.
    assert _cgroup_tree(tmp_path / "a", "0::/", {"memory.max": str(768 * mb)}) == 768
    assert _cgroup_tree(tmp_path / "b", "0::/", {"memory.max": "max"}) is None
    # cgroup v1, named by its host path, which the container does not see: its root is read.
    v1 = {"memory/memory.limit_in_bytes": str(768 * mb)}
    assert _cgroup_tree(tmp_path / "c", "4:memory:/docker/0123abcd", v1) == 768
    # A nested group: the least limit on the way up counts.
    nested = {"memory/memory.limit_in_bytes": "9223372036854771712", "memory/ci/memory.limit_in_bytes": str(1024 * mb)}
    nested["memory/ci/job/memory.limit_in_bytes"] = "9223372036854771712"
    assert _cgroup_tree(tmp_path / "d", "4:memory:/ci/job", nested) == 1024
    assert _cgroup_tree(tmp_path / "e", "4:memory:/", {"memory/memory.limit_in_bytes": "9223372036854771712"}) is None
    assert container_memory_limit_mb(proc_cgroup=tmp_path / "missing") is None


def test_the_kits_memory_budgets_fit_the_container() -> None:
    assert limits_within_container(LIMITS, container_mb=None) == (LIMITS, None)
    roomy = KIT_MEMORY_MB + LIMITS.memory_mb + LIMITS.grading_memory_mb
    assert limits_within_container(LIMITS, container_mb=roomy) == (LIMITS, None)
    for container_mb in (GRADESCOPE_MEMORY_MB, 1024, 2048, 4096):
        limits, note = limits_within_container(LIMITS, container_mb=container_mb)
        assert limits.memory_mb + limits.grading_memory_mb <= container_mb - KIT_MEMORY_MB
        assert limits.memory_mb >= MIN_STUDENT_MEMORY_MB and limits.grading_memory_mb >= MIN_GRADING_MEMORY_MB
        assert note is not None and f"{container_mb} MB" in note and "at least" not in note
        assert limits.time_seconds == LIMITS.time_seconds
    # Too small for the kit: the least budgets, and the instructor is told what to set.
    limits, note = limits_within_container(LIMITS, container_mb=512)
    assert (limits.memory_mb, limits.grading_memory_mb) == (MIN_STUDENT_MEMORY_MB, MIN_GRADING_MEMORY_MB)
    assert note is not None and f"at least {KIT_MEMORY_MB + MIN_STUDENT_MEMORY_MB + MIN_GRADING_MEMORY_MB} MB" in note


def _metadata(created_at: str, due_date: str | None, **extra: object) -> dict:
    """Gradescope's submission_metadata.json, as its documentation shows it."""
    return {
        "id": 123456,
        "created_at": created_at,
        "assignment": {"due_date": due_date, "late_due_date": None, "title": "Chapter 6", "total_points": "100.0"},
        "submission_method": "upload",
        "users": [{"email": "student@example.com", "id": 1234, "name": "Student User"}],
        "previous_submissions": [],
        **extra,
    }


@pytest.mark.parametrize(
    ("created_at", "due_date", "expected"),
    [
        ("2026-12-01T22:59:59.000000-08:00", "2026-12-01T23:00:00.000000-08:00", ON_TIME),
        ("2026-12-01T23:00:00.000000-08:00", "2026-12-01T23:00:00.000000-08:00", ON_TIME),
        ("2026-12-01T23:01:00.000000-08:00", "2026-12-01T23:00:00.000000-08:00", Lateness(True, 1)),
        # The same moment written in another time zone.
        ("2026-12-03T07:00:01.000000+00:00", "2026-12-01T23:00:00.000000-08:00", Lateness(True, 2)),
        ("2026-12-01T23:01:00.000000-08:00", None, ON_TIME),
    ],
)
def test_gradescope_metadata_gives_days_late(
    tmp_path: Path, created_at: str, due_date: str | None, expected: Lateness
) -> None:
    path = tmp_path / "submission_metadata.json"
    path.write_text(json.dumps(_metadata(created_at, due_date)), encoding="utf-8")
    assert submission_lateness(path)[0] == expected


def test_gradescope_metadata_extensions_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "submission_metadata.json"
    extended = _metadata("2026-12-02T23:30:00-08:00", "2026-12-01T23:00:00-08:00")
    extended["users"][0]["assignment"] = {"due_date": "2026-12-03T23:00:00-08:00"}
    path.write_text(json.dumps(extended), encoding="utf-8")
    assert submission_lateness(path) == (ON_TIME, None)
    for text, why in (("{not json", "not JSON"), ("[]", "not a JSON object")):
        path.write_text(text, encoding="utf-8")
        lateness, note = submission_lateness(path)
        assert lateness == ON_TIME and note is not None and why in note
    path.write_text(json.dumps(_metadata("2026-12-02T23:30:00", "2026-12-01T23:00:00")), encoding="utf-8")
    assert submission_lateness(path)[0] == ON_TIME
    assert "cannot read" in (submission_lateness(tmp_path / "absent.json")[1] or "")


def test_a_late_submission_loses_what_the_late_policy_says(autograder_zip: Path, tmp_path: Path) -> None:
    """A correct hand-in, 1 day and 1 minute late, under a policy of 10% per day: two days begun, 20 points. The
    late.csv it hands in itself says nothing: only Gradescope's metadata does."""
    results, _ = _grade_in_container(
        autograder_zip,
        tmp_path / "autograder",
        {**_solutions(), "late.csv": "student,late,days_late\nsubmission,0,\n"},
        memory_mb=None,
        course_yml_extra="\nlate_policy:\n  penalty_percent_per_day: 10\n  cutoff_days: 5\n",
        metadata=_metadata("2026-12-02T23:01:00.000000-08:00", "2026-12-01T23:00:00.000000-08:00"),
    )
    assert results["score"] == 80 and sum(test["score"] for test in results["tests"]) == 100
    assert results["extra_data"]["days_late"] == 2 and results["extra_data"]["late_penalty"] == 20
    # The other checks wait for the due date, so the points deducted (which could tell the score) wait too.
    assert "Handed in 2 days late; the late policy deducts 10% of the 100 points per day late." in results["output"]
    assert "points deducted" not in results["output"]
