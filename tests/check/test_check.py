"""`check_course`: the graders against the solutions, the stubs and the mutants, on the real course and broken copies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from repo_paths import REPO
from rich.console import Console

from coursekit.check.checker import (
    CheckError,
    CheckReport,
    CheckRow,
    check_course,
    load_mutants,
    write_mutant_handin,
)
from coursekit.config import load_course

COURSE = load_course(REPO / "course.yml")
FENCE = re.compile(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n", re.MULTILINE | re.DOTALL)


def rendered(report: CheckReport) -> str:
    console = Console(record=True, width=200)
    report.render(console)
    return console.export_text()


def write_stubs(solutions: Path, exercises: Path) -> None:
    """Stub-like hand-ins: every solution fence replaced by a NotImplementedError."""
    exercises.mkdir()
    for source in solutions.glob("*.py"):
        text = FENCE.sub(lambda m: f'{m.group(1)}raise NotImplementedError("Exercise: not done")\n', source.read_text())
        (exercises / source.name).write_text(text, encoding="utf-8")


def write_mutants(path: Path, mutants: list[dict[str, str]]) -> None:
    path.write_text(yaml.safe_dump(mutants, sort_keys=False), encoding="utf-8")


# --- the real course --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_course_checks_out() -> None:
    report = check_course(course_dir=REPO)
    assert report.ok, rendered(report)
    names = [row.handin for row in report.rows]
    assert names[:2] == ["solutions", "exercises"]
    assert {"mutant tanh-overflows", "mutant relu-network", "mutant parameters-weights-only"} <= set(names)
    assert all(row.ok for row in report.rows)


# --- a broken copy of the course ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the model graders (so the other parts have none), model points raised to 35 in course.yml, mutants that
    keep full marks, end their own process, repeat a name or replace text that is not there."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "solutions", course / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data", course / "data")
    (course / "graders" / "mutants").mkdir(parents=True)
    for name in ("pytest.ini", "test_model.py", "probes.py", "fit_figure.py"):
        shutil.copy(REPO / "graders" / name, course / "graders" / name)
    text = (REPO / "course.yml").read_text(encoding="utf-8")
    changed = text.replace("file: model.py\n      points: 30", "file: model.py\n      points: 35")
    assert changed != text
    (course / "course.yml").write_text(changed, encoding="utf-8")
    write_stubs(course / "solutions", course / "exercises")
    # A stub that is not one: the reference count_parameters.
    stub = (course / "exercises" / "model.py").read_text(encoding="utf-8")
    reference_count = "    return sum(p.numel() for p in model.parameters() if p.requires_grad)\n"
    count_stub = stub[stub.index("def count_parameters") :]
    stub = stub.replace(count_stub, count_stub.split("    raise NotImplementedError")[0] + reference_count)
    (course / "exercises" / "model.py").write_text(stub, encoding="utf-8")
    write_mutants(
        course / "graders" / "mutants" / "model.yml",
        [
            {
                "name": "relu-network",
                "part": "model",
                "file": "model.py",
                "bug": "ReLU instead of tanh",
                "replace": "self.hidden_activation = nn.Tanh()\n",
                "with": "self.hidden_activation = nn.ReLU()\n",
            },
            {
                "name": "harmless-docstring",
                "part": "model",
                "file": "model.py",
                "bug": "a docstring changes: no grader can notice",
                "replace": "Map inputs of shape [N, 1] to outputs of shape [N, 1].",
                "with": "Map a batch of inputs to outputs.",
            },
            {
                "name": "exits-at-import",
                "part": "model",
                "file": "model.py",
                "bug": "the module ends the process",
                "replace": "from torch import Tensor, nn\n",
                "with": "import os\n\nos._exit(3)\n",
            },
            {
                "name": "relu-network",
                "part": "model",
                "file": "model.py",
                "bug": "the same name again",
                "replace": "nn.Tanh()",
                "with": "nn.Sigmoid()",
            },
            {
                "name": "not-there",
                "part": "model",
                "file": "model.py",
                "bug": "replace text that the solution does not hold",
                "replace": "self.hidden = nn.Linear(1, n_hidden)",
                "with": "self.hidden = nn.Linear(1, 1)",
            },
        ],
    )
    return course


@pytest.fixture(scope="module")
def broken_report(broken_course: Path) -> CheckReport:
    return check_course(course_dir=broken_course, jobs=2)


def row_of(report: CheckReport, handin: str) -> CheckRow:
    (row,) = [row for row in report.rows if row.handin == handin]
    return row


def test_a_broken_course_is_not_ok(broken_report: CheckReport) -> None:
    assert not broken_report.ok
    text = rendered(broken_report)
    assert "✗" in text and "not ok" in text


def test_points_that_do_not_add_up_name_the_part_and_both_numbers(broken_report: CheckReport) -> None:
    assert "part model: the graders give 30 points, course.yml gives 35" in broken_report.problems
    assert "part training: the graders give 0 points, course.yml gives 40" in broken_report.problems


def test_exercises_without_a_grader_are_reported(broken_report: CheckReport) -> None:
    for exercise in COURSE.assignment.part("activations").exercises + COURSE.assignment.part("training").exercises:
        assert any(problem.startswith(f"exercise {exercise.id} ") for problem in broken_report.problems)
    assert not any(problem.startswith("exercise 2.") for problem in broken_report.problems)


def test_a_mutant_that_keeps_full_marks_is_not_ok(broken_report: CheckReport) -> None:
    row = row_of(broken_report, "mutant harmless-docstring")
    assert not row.ok
    assert row.points["model"] == (30.0, 30.0)
    assert "no grader notices this bug" in row.note


def test_a_mutant_that_loses_points_in_its_part_is_ok(broken_report: CheckReport) -> None:
    row = row_of(broken_report, "mutant relu-network")
    assert row.ok, row.note
    score, most = row.points["model"]
    assert score < most == 30.0


def test_a_mutant_that_ends_its_own_process_loses_its_part_and_the_check_goes_on(broken_report: CheckReport) -> None:
    row = row_of(broken_report, "mutant exits-at-import")
    assert row.ok, row.note
    assert row.points["model"] == (0.0, 30.0)


def test_stubs_that_score_points_are_not_ok(broken_report: CheckReport) -> None:
    row = row_of(broken_report, "exercises")
    assert not row.ok
    assert row.points["model"][0] == 8.0  # all of count_parameters
    assert "the stubs score points in model" in row.note
    assert row_of(broken_report, "solutions").ok


def test_malformed_mutants_are_problems_and_not_graded(broken_report: CheckReport) -> None:
    problems = "\n".join(broken_report.problems)
    assert "mutant relu-network: the name is also used in mutants/model.yml" in problems
    assert "mutant not-there: its replace text occurs 0 times in solutions/model.py" in problems
    assert "mutant not-there" not in [row.handin for row in broken_report.rows]


# --- the pieces ---------------------------------------------------------------------------------------------


def test_load_mutants_checks_each_entry(tmp_path: Path) -> None:
    mutants_dir = tmp_path / "mutants"
    mutants_dir.mkdir()
    good = {"name": "ok-one", "part": "model", "file": "model.py", "bug": "b", "replace": "= nn.Tanh()", "with": "= x"}
    write_mutants(
        mutants_dir / "a.yml",
        [
            good,
            {**good, "name": "Not_Kebab"},
            {**good, "name": "no-part", "part": "plotting"},
            {**good, "name": "no-file", "file": "missing.py"},
            {key: value for key, value in good.items() if key != "bug"},
            {**good, "name": "extra", "hint": "?"},
            {**good, "name": "twice", "replace": "self."},
            {**good, "name": "not-a-part", "file": "helper.py", "replace": "HELPER"},
        ],
    )
    write_mutants(mutants_dir / "b.yml", [good])
    (mutants_dir / "c.yml").write_text("name: [unclosed\n", encoding="utf-8")
    solutions = shutil.copytree(REPO / "solutions", tmp_path / "solutions")
    (solutions / "helper.py").write_text("HELPER = 1\n", encoding="utf-8")
    mutants, problems = load_mutants(mutants_dir=mutants_dir, course=COURSE, solutions_dir=solutions)
    assert [m.name for m in mutants] == ["ok-one"]
    text = "\n".join(problems)
    assert "mutant Not_Kebab: the name must be kebab-case" in text
    assert "part 'plotting' is not one of" in text
    assert "solutions/missing.py does not exist" in text
    assert "mutant not-a-part: helper.py is not one of the parts' files" in text
    assert "a.yml[4]: missing or empty ['bug']" in text
    assert "a.yml[5]: unknown keys ['hint']" in text
    assert "mutant twice: its replace text occurs" in text and "it must occur exactly once" in text
    assert "b.yml: mutant ok-one: the name is also used in mutants/a.yml" in text
    assert "c.yml: not valid YAML" in text


def test_a_mutant_handin_changes_only_its_file(tmp_path: Path) -> None:
    mutants, problems = load_mutants(
        mutants_dir=REPO / "graders" / "mutants", course=COURSE, solutions_dir=REPO / "solutions"
    )
    assert not problems
    (mutant,) = [m for m in mutants if m.name == "relu-network"]
    handin = write_mutant_handin(
        mutant=mutant, solutions_dir=REPO / "solutions", data_dir=REPO / "data", target=tmp_path / "handin"
    )
    for source in (REPO / "solutions").glob("*.py"):
        text = (handin / source.name).read_text(encoding="utf-8")
        assert (text == source.read_text(encoding="utf-8")) == (source.name != "model.py")
    assert "nn.ReLU()" in (handin / "model.py").read_text(encoding="utf-8")
    assert (handin / "data" / "temperature.csv").is_file()


def test_a_course_without_graders_cannot_be_checked(tmp_path: Path) -> None:
    shutil.copy(REPO / "course.yml", tmp_path / "course.yml")
    with pytest.raises(CheckError, match=r"pytest.ini not found"):
        check_course(course_dir=tmp_path)


def test_a_grader_that_does_not_collect_stops_the_check_with_its_name(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(REPO / "solutions", course / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data", course / "data")
    shutil.copy(REPO / "course.yml", course / "course.yml")
    write_stubs(course / "solutions", course / "exercises")
    (course / "graders").mkdir()
    for name in ("pytest.ini", "test_model.py", "probes.py", "fit_figure.py"):
        shutil.copy(REPO / "graders" / name, course / "graders" / name)
    (course / "graders" / "test_half_written.py").write_text('"""Half written."""\n\ndef test_(:\n', encoding="utf-8")
    report = check_course(course_dir=course, jobs=1)
    assert not report.ok and report.rows == []
    assert report.problems == ["graders/test_half_written.py:3: SyntaxError: invalid syntax"]
    assert "not ok: 0 hand-ins graded" in rendered(report)


def test_a_grader_that_fails_to_import_stops_the_check_at_once_from_the_command_line(tmp_path: Path) -> None:
    """The real command, without a terminal: the file and line of the error, progress lines, exit 1."""
    course = tmp_path / "course"
    for folder in ("solutions", "data", "graders", "exercises"):
        shutil.copytree(REPO / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "course.yml", course / "course.yml")
    with (course / "graders" / "test_model.py").open("a", encoding="utf-8") as file:
        file.write("\nundefined_helper()\n")
    line = len((course / "graders" / "test_model.py").read_text(encoding="utf-8").splitlines())
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run(
        [sys.executable, "-m", "coursekit", "check", "--course-dir", str(course)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert f"problem: graders/test_model.py:{line}: NameError: name 'undefined_helper' is not defined" in run.stdout
    assert "not ok: 0 hand-ins graded" in run.stdout
    assert "collecting the graders ..." in run.stderr
