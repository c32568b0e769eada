"""A mistake in the course is never a grade: the real `coursekit` command on a copy of the course with one mistake.

Each case runs `python -m coursekit` as an instructor would (no terminal, as in CI) and expects a non-zero exit,
one line naming the cause and no traceback, and no result written for any student.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repo_paths import REPO

MODULES = ("activations.py", "model.py", "training.py")


def course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    for folder in ("graders", "solutions", "data", "exercises"):
        shutil.copytree(REPO / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "course.yml", course / "course.yml")
    return course


def submissions(tmp_path: Path, **handins: str) -> Path:
    """A class folder: each student's modules copied from `origin` (solutions or exercises) of the repository."""
    folder = tmp_path / "submissions"
    for student, origin in handins.items():
        (folder / student).mkdir(parents=True)
        for name in MODULES:
            shutil.copy2(REPO / origin / name, folder / student / name)
    return folder


def coursekit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "coursekit", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )


def grade(course: Path, class_folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return coursekit("grade", class_folder, "--out", out, "--course-dir", course, "--jobs", "1", *extra)


def error_lines(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    return [line for line in run.stderr.splitlines() if line.startswith("error: ")]


def line_number(path: Path, text: str) -> int:
    (number,) = [index for index, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return number


def test_points_off_by_one_stop_grade_export_and_release(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    course_yml = course / "course.yml"
    text = course_yml.read_text(encoding="utf-8")
    changed = text.replace("file: model.py\n      points: 30", "file: model.py\n      points: 31")
    assert changed != text
    course_yml.write_text(changed, encoding="utf-8")
    class_folder = submissions(tmp_path, alice="solutions")
    out = tmp_path / "out"
    expected = "error: part model: the graders give 30 points, course.yml gives 31"

    run = grade(course, class_folder, out)
    assert run.returncode == 1
    assert error_lines(run) == [expected]
    assert not (out / "results").exists()

    out.mkdir()
    export = coursekit("export", out, "--to", "csv", "--course-dir", course)
    assert export.returncode == 1 and error_lines(export) == [expected]
    release = coursekit("release", "--out", tmp_path / "release", "--course-dir", course)
    assert release.returncode == 1 and error_lines(release) == [expected]
    assert not (tmp_path / "release").exists()


def test_a_file_course_yml_names_but_the_course_lacks_is_named_before_anything_is_graded(tmp_path: Path) -> None:
    """The given module every hand-in is graded beside, missing: one line naming course.yml's key, no traceback
    from deep in intake, no OUT folder."""
    course = course_copy(tmp_path)
    (course / "data" / "temperature_data.py").unlink()
    out = tmp_path / "out"

    run = grade(course, submissions(tmp_path, alice="solutions"), out)
    assert run.returncode == 1
    assert error_lines(run) == [f"error: course.yml's given: data/temperature_data.py is not a file in {course}"]
    assert not out.exists()


def test_an_unknown_threshold_name_names_the_course_yml_line(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    course_yml = course / "course.yml"
    course_yml.write_text(
        course_yml.read_text(encoding="utf-8").replace("training_held_out_mse:", "training_heldout_mse:"),
        encoding="utf-8",
    )
    line = line_number(course_yml, "training_heldout_mse:")
    grader = course / "graders" / "test_training.py"
    reads = line_number(grader, 'course.thresholds["training_held_out_mse"]')
    run = grade(course, submissions(tmp_path, alice="solutions"), tmp_path / "out")
    assert run.returncode == 1
    first, second = error_lines(run) + run.stderr.splitlines()[-1:]
    assert first.startswith(f"error: {course_yml}, line {line}: thresholds.training_heldout_mse: no grader reads it")
    assert second.startswith(f"graders/test_training.py:{reads}: reads course.thresholds['training_held_out_mse']")
    assert not (tmp_path / "out" / "results").exists()


def test_a_syntax_error_in_a_grader_names_its_file_and_line(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    grader = course / "graders" / "test_model.py"
    lines = len(grader.read_text(encoding="utf-8").splitlines())
    with grader.open("a", encoding="utf-8") as file:
        file.write("def half_written(:\n")
    run = grade(course, submissions(tmp_path, alice="solutions"), tmp_path / "out")
    assert run.returncode == 1
    assert error_lines(run) == [f"error: graders/test_model.py:{lines + 1}: SyntaxError: invalid syntax"]
    assert not (tmp_path / "out" / "results").exists()


def test_a_mistyped_exercise_id_is_one_line(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    grader = course / "graders" / "test_model.py"
    text = grader.read_text(encoding="utf-8")
    grader.write_text(text.replace('exercise="2.2"', 'exercise="2.9"', 1), encoding="utf-8")
    run = grade(course, submissions(tmp_path, alice="solutions"), tmp_path / "out")
    assert run.returncode == 1
    (first,) = error_lines(run)
    assert re.match(r"error: graders/test_model\.py:\d+: exercise '2\.9' is not in course\.yml", first), first


def _break_first_test(grader: Path, statement: str) -> int:
    """Put `statement` first in the body of the grader's first test; return its line."""
    source = grader.read_text(encoding="utf-8")
    test = next(
        node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )
    first = test.body[0]
    lines = source.splitlines(keepends=True)
    lines.insert(first.lineno - 1, " " * first.col_offset + statement + "\n")
    grader.write_text("".join(lines), encoding="utf-8")
    return first.lineno


@pytest.mark.slow
def test_a_name_error_in_a_grader_stops_the_batch_with_the_exception_and_line(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    line = _break_first_test(course / "graders" / "test_model.py", "name_that_is_not_defined")
    out = tmp_path / "out"
    run = grade(course, submissions(tmp_path, alice="solutions"), out)
    assert run.returncode == 1
    (first,) = error_lines(run)
    assert f"NameError: name 'name_that_is_not_defined' is not defined at graders/test_model.py:{line}" in first
    assert not (out / "results" / "alice.json").exists()


@pytest.mark.slow
def test_with_keep_going_a_grader_error_is_not_graded_never_zero(tmp_path: Path) -> None:
    """A grader that breaks on one hand-in only: the batch stops; with --keep-going that hand-in is not graded."""
    course = course_copy(tmp_path)
    with (course / "graders" / "conftest.py").open("a", encoding="utf-8") as file:
        file.write(
            "\n\n@pytest.fixture(autouse=True)\n"
            "def _breaks_on_the_stubs(handin_source):\n"
            '    if "NotImplementedError" in (handin_source.sources.get("model") or ""):\n'
            "        name_that_is_not_defined\n"
        )
    class_folder = submissions(tmp_path, alice="solutions", bob="exercises")
    out = tmp_path / "out"
    stopped = grade(course, class_folder, out)
    assert stopped.returncode == 1
    (first,) = error_lines(stopped)
    assert "a grader raised while grading bob: NameError" in first and "graders/conftest.py:" in first
    assert not (out / "results" / "bob.json").exists()

    run = grade(course, class_folder, out, "--keep-going")
    assert run.returncode == 0, run.stderr
    rows = {row.split(",")[0]: row for row in (out / "grades.csv").read_text().splitlines()[1:]}
    assert ",not graded," in rows["bob"] + ","
    bob = json.loads((out / "results" / "bob.json").read_text())
    assert bob["extra_data"]["not_graded"] and "graders/conftest.py" not in bob["output"]
    assert any("graders/conftest.py:" in error for error in bob["extra_data"]["grader_errors"])
    assert "not graded" in run.stdout and "bob" in run.stdout


@pytest.mark.slow
def test_the_canary_stops_a_batch_when_a_solution_is_broken(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    with (course / "solutions" / "model.py").open("a", encoding="utf-8") as file:
        file.write('\nraise RuntimeError("a solution broken by its author")\n')
    out = tmp_path / "out"
    run = grade(course, submissions(tmp_path, alice="solutions"), out)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "error: the reference solutions do not get full marks" in run.stderr
    assert re.search(r"^2\.1 .*RuntimeError", run.stderr, re.MULTILINE), run.stderr
    assert not (out / "results").exists() or not any((out / "results").iterdir())


@pytest.mark.slow
def test_a_changed_handin_is_regraded_on_a_plain_rerun_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    class_folder = submissions(tmp_path, alice="solutions", bob="exercises")
    out = tmp_path / "out"
    first = grade(REPO, class_folder, out)
    assert first.returncode == 0, first.stderr
    # A CI log: a progress line per hand-in, and no line cut at 80 columns.
    assert re.search(r"^grading 2/2 (alice|bob) \(\d+ s\)$", first.stdout, re.MULTILINE), first.stdout
    assert f"grades in {out / 'grades.csv'}" in first.stdout
    assert re.search(r"│ bob +│ zero score +│ 0 of 100 points +│", first.stdout), first.stdout
    alice_before = (out / "results" / "alice.json").stat().st_mtime_ns
    bob_before = json.loads((out / "results" / "bob.json").read_text())["score"]
    assert bob_before == 0
    # bob hands in again, with the reference model.
    shutil.copy2(REPO / "solutions" / "model.py", class_folder / "bob" / "model.py")
    again = grade(REPO, class_folder, out)
    assert again.returncode == 0, again.stderr
    assert "regraded 1 hand-ins whose results were out of date (hand-in changed: 1)" in again.stdout
    assert "1 unchanged since graded" in again.stdout
    assert (out / "results" / "alice.json").stat().st_mtime_ns == alice_before
    assert json.loads((out / "results" / "bob.json").read_text())["score"] == 30
    one = grade(REPO, class_folder, out, "--student", "bob")
    assert one.returncode == 0, one.stderr
    assert "bob: 30/100 (was 30/100) (unchanged since it was graded; --force regrades)" in one.stdout


# --- fingerprints, without grading ----------------------------------------------------------------------------


def test_a_fingerprint_follows_what_grading_reads_and_nothing_else(tmp_path: Path) -> None:
    from coursekit.config import load_course
    from coursekit.grade.fingerprint import course_fingerprint, handin_fingerprint

    course_dir = course_copy(tmp_path)
    course = load_course(course_dir / "course.yml")
    before = course_fingerprint(course_dir, course)
    (course_dir / "graders" / "__pycache__").mkdir()
    (course_dir / "graders" / "__pycache__" / "test_model.cpython-311.pyc").write_bytes(b"cache")
    (course_dir / "graders" / "mutants" / "model.yml").write_text("[]\n", encoding="utf-8")
    assert course_fingerprint(course_dir, course) == before
    with (course_dir / "graders" / "probes.py").open("a", encoding="utf-8") as file:
        file.write("\n# a comment\n")
    after = course_fingerprint(course_dir, course)
    assert after.graders != before.graders and (after.course, after.kit) == (before.course, before.kit)
    with (course_dir / "data" / "temperature.csv").open("a", encoding="utf-8") as file:
        file.write("\n")
    assert course_fingerprint(course_dir, course).graders != after.graders

    handin = submissions(tmp_path, alice="solutions") / "alice"
    first = handin_fingerprint(handin)
    (handin / "notes.txt").symlink_to("/dev/zero")  # never followed
    linked = handin_fingerprint(handin)
    assert linked != first
    (handin / "notes.txt").unlink()
    assert handin_fingerprint(handin) == first
    (handin / "model.py").write_text((handin / "model.py").read_text() + "\n", encoding="utf-8")
    assert handin_fingerprint(handin) != first


def test_results_graded_with_other_graders_are_out_of_date(tmp_path: Path) -> None:
    import dataclasses

    from coursekit.config import load_course
    from coursekit.grade.engine import out_of_date_results
    from coursekit.grade.fingerprint import course_fingerprint
    from coursekit.grade.results import StudentResult, read_student_result, write_student_result

    course_dir = course_copy(tmp_path)
    course = load_course(course_dir / "course.yml")
    now = course_fingerprint(course_dir, course).with_handin("0" * 64)
    out = tmp_path / "out"
    for student, fingerprint in (
        ("current", now),
        ("older_graders", dataclasses.replace(now, graders="1" * 64)),
        ("older_kit", dataclasses.replace(now, kit="2" * 64)),
        ("unknown", None),
    ):
        write_student_result(StudentResult(student, (), fingerprint=fingerprint), course=course, out_dir=out)
    assert read_student_result(out, "current").fingerprint == now  # type: ignore[union-attr]
    assert out_of_date_results(out, course_dir=course_dir) == {
        "older_graders": ["graders changed"],
        "older_kit": ["kit version changed"],
    }
