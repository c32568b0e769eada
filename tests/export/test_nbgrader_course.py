"""The nbgrader notebook and course: layout and metadata, the checks run in-process, and the real nbgrader CLI.

The slow tests run stock `nbgrader generate_assignment` and `nbgrader autograde` from this environment on
a temporary copy of the built course, with a kernelspec for this Python under a temporary Jupyter
directory, and read the scores from nbgrader's gradebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from repo_paths import REPO
from solution_lines import solution_body_lines

from coursekit.author.notebook import (
    BEGIN_HIDDEN_TESTS,
    build_notebook,
    exercise_points,
    fence_lines_removed,
    filled_notebook,
    grade_cell_id,
    notebook_text,
    solution_grade_id,
)
from coursekit.author.release import build_nbgrader_course
from coursekit.config import load_course
from coursekit.export.nbgrader import nbgrader_environment, run_nbgrader

COURSE = load_course(REPO / "course.yml")
ASSIGNMENT = COURSE.assignment
EXERCISES = [exercise for part in ASSIGNMENT.parts for exercise in part.exercises]
CONTRACT_NAMES = [exercise.name for exercise in EXERCISES]
VENV_BIN = Path(sys.executable).parent


def _cells_by_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells if "nbgrader" in cell.metadata}


def _run_cells(
    notebook: nbformat.NotebookNode, replace: dict[str, str] | None = None
) -> dict[str, BaseException | None]:
    """Execute the code cells in one namespace, as a kernel would; the exception each grade_id cell raised."""
    namespace: dict[str, Any] = {}
    outcome: dict[str, BaseException | None] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        source = (replace or {}).get(grade_id, cell.source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, grade_id, "exec"), namespace)
            outcome[grade_id] = None
        except Exception as error:
            outcome[grade_id] = error
    return outcome


@pytest.fixture(scope="module")
def source_notebook() -> nbformat.NotebookNode:
    return build_notebook(course_dir=REPO, with_solutions=True)


@pytest.fixture(scope="module")
def student_notebook() -> nbformat.NotebookNode:
    return build_notebook(course_dir=REPO, with_solutions=False)


def test_exercise_headings_solution_and_test_cells_follow_course_yml(source_notebook: nbformat.NotebookNode) -> None:
    cells = source_notebook.cells
    for exercise in EXERCISES:
        heading = next(
            index for index, cell in enumerate(cells) if cell.source.startswith(f"## Exercise {exercise.id} — ")
        )
        assert cells[heading].source.splitlines()[0] == f"## Exercise {exercise.id} — {exercise.title}"
        solution, test = cells[heading + 1], cells[heading + 2]
        assert solution.metadata["nbgrader"] == {
            "solution": True,
            "grade": False,
            "locked": False,
            "grade_id": solution_grade_id(exercise),
            "schema_version": 3,
        }
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        test_meta = test.metadata["nbgrader"]
        assert test_meta["grade"] is True and test_meta["locked"] is True and test_meta["solution"] is False
        assert test_meta["grade_id"] == grade_cell_id(exercise)
        assert BEGIN_HIDDEN_TESTS in test.source and "### END HIDDEN TESTS" in test.source
    assert solution_grade_id(EXERCISES[1]) == "ex1_2_sigmoid"
    assert grade_cell_id(EXERCISES[1]) == "test_1_2_sigmoid"


def test_setup_and_data_cells_are_locked_and_grade_ids_unique(source_notebook: nbformat.NotebookNode) -> None:
    cells = _cells_by_id(source_notebook)
    for grade_id in ("setup_imports", "data_temperature"):
        assert cells[grade_id].metadata["nbgrader"]["locked"] is True
        assert cells[grade_id].metadata["nbgrader"]["grade"] is False
    grade_ids = [cell.metadata["nbgrader"]["grade_id"] for cell in source_notebook.cells if "nbgrader" in cell.metadata]
    assert len(grade_ids) == len(set(grade_ids)) == 2 + 2 * len(EXERCISES)
    assert "35.7" in cells["data_temperature"].source  # the book's first reading, from data/temperature.csv
    assert source_notebook.metadata["kernelspec"]["name"] == "python3"


def test_test_cell_points_are_the_graders_points_per_exercise(source_notebook: nbformat.NotebookNode) -> None:
    """Each test cell is worth what the hidden graders give its exercise, so both graders agree on partial work."""
    from coursekit.grade.engine import grader_points

    by_exercise = grader_points((REPO / "graders").resolve())
    cells = _cells_by_id(source_notebook)
    for part in ASSIGNMENT.parts:
        points = [cells[grade_cell_id(exercise)].metadata["nbgrader"]["points"] for exercise in part.exercises]
        assert sum(points) == part.points
        assert points == [by_exercise[exercise.id] for exercise in part.exercises]
        assert exercise_points(part, course_dir=REPO) == points


def test_notebook_is_reproducible() -> None:
    first = notebook_text(build_notebook(course_dir=REPO, with_solutions=True))
    assert first == notebook_text(build_notebook(course_dir=REPO, with_solutions=True))
    nbformat.validate(nbformat.reads(first, as_version=4))


def test_solutions_define_the_contract_and_pass_every_check(source_notebook: nbformat.NotebookNode) -> None:
    outcome = _run_cells(source_notebook)
    assert {grade_id: error for grade_id, error in outcome.items() if error is not None} == {}


def test_student_notebook_fails_every_check_with_the_exercise_id(student_notebook: nbformat.NotebookNode) -> None:
    outcome = _run_cells(student_notebook)
    for exercise in EXERCISES:
        error = outcome[grade_cell_id(exercise)]
        assert isinstance(error, NotImplementedError), exercise.id
        assert f"Exercise {exercise.id}: implement {exercise.name}" in str(error)
    assert outcome["setup_imports"] is None and outcome["data_temperature"] is None


def test_student_notebook_carries_no_solution_and_no_hidden_test(student_notebook: nbformat.NotebookNode) -> None:
    text = notebook_text(student_notebook)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "RecordingSGD"):
        assert marker not in text
    lines = {line.strip() for cell in student_notebook.cells for line in cell.source.splitlines()}
    assert solution_body_lines() & lines == set()


def test_hidden_tests_do_not_spell_out_a_solution(source_notebook: nbformat.NotebookNode) -> None:
    body_lines = solution_body_lines()
    assert body_lines
    for exercise in EXERCISES:
        test_source = _cells_by_id(source_notebook)[grade_cell_id(exercise)].source
        assert body_lines & {line.strip() for line in test_source.splitlines()} == set(), exercise.id


@pytest.mark.parametrize(
    ("grade_id", "broken", "failing_test", "hint"),
    [
        (
            "ex1_2_sigmoid",
            "def sigmoid(x):\n    return 1.0 / (1.0 + torch.exp(-x))\n",
            "test_1_2_sigmoid",
            "not finite",
        ),
        (
            "ex3_2_training_loop",
            "def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):\n"
            "    history = {'train': [], 'val': []}\n"
            "    for _ in range(n_epochs):\n"
            "        loss = loss_fn(model(t_u_train), t_c_train)\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        history['train'].append(loss.item())\n"
            "        history['val'].append(loss_fn(model(t_u_val), t_c_val).item())\n"
            "    return history\n",
            "test_3_2_training_loop",
            "zero_grad",
        ),
        (
            "ex2_2_count_parameters",
            "def count_parameters(model):\n    return sum(p.numel() for p in model.parameters())\n",
            "test_2_2_count_parameters",
            "frozen",
        ),
    ],
)
def test_checks_catch_a_typical_mistake_and_name_it(
    source_notebook: nbformat.NotebookNode, grade_id: str, broken: str, failing_test: str, hint: str
) -> None:
    outcome = _run_cells(source_notebook, replace={grade_id: broken})
    error = outcome[failing_test]
    assert isinstance(error, AssertionError) and hint in str(error)
    assert [g for g, e in outcome.items() if e is not None] == [failing_test]


def test_warnings_and_stderr_in_student_code_do_not_reach_the_test_cells_output(
    source_notebook: nbformat.NotebookNode, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = _cells_by_id(source_notebook)
    noisy = fence_lines_removed(cells["ex1_2_sigmoid"].source) + (
        "\n\n\n_quiet_sigmoid = sigmoid\n\n\ndef sigmoid(x):\n"
        "    import sys, warnings\n"
        "    warnings.warn('a UserWarning from the student', UserWarning)\n"
        "    print('a line on stderr', file=sys.stderr)\n"
        "    return _quiet_sigmoid(x)\n"
    )
    outcome = _run_cells(source_notebook, replace={"ex1_2_sigmoid": noisy})
    assert outcome["test_1_2_sigmoid"] is None
    assert capsys.readouterr().err == ""


# The real nbgrader CLI.

SOLVED, UNTOUCHED, TAMPERED, NOISY = "solved", "untouched", "tampered", "noisy"


def _submit(course_root: Path, student: str, notebook: nbformat.NotebookNode) -> None:
    folder = course_root / "submitted" / student / ASSIGNMENT.id
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{ASSIGNMENT.id}.ipynb")


@pytest.fixture(scope="module")
def autograded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the course, generate the release, hand in four notebooks, autograde them; the gradebook's scores."""
    tmp = tmp_path_factory.mktemp("nbgrader")
    built = tmp / "built"
    build_nbgrader_course(course_dir=REPO, out_dir=built)
    course_root = tmp / "course"
    shutil.copytree(built, course_root)
    env = nbgrader_environment(jupyter_dir=tmp / "jupyter")
    seconds = {
        "generate_assignment": run_nbgrader(
            "generate_assignment", ASSIGNMENT.id, "--force", course_root=course_root, env=env
        )
    }

    release = nbformat.read(course_root / "release" / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb", as_version=4)

    def filled(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
        return filled_notebook(notebook, course_dir=REPO)

    def without_cell(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
        notebook.cells = [
            cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id
        ]
        return notebook

    _submit(course_root, SOLVED, filled(release))
    _submit(course_root, UNTOUCHED, release)
    # Unsolved, every test cell emptied and one deleted: autograde must restore them and still give zero.
    tampered = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    _submit(course_root, TAMPERED, without_cell(tampered, "test_1_3_relu"))
    # Solved, but sigmoid and training_loop warn and write to stderr, and a test cell is deleted.
    noisy = filled(release)
    for cell in noisy.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in ("ex1_2_sigmoid", "ex3_2_training_loop"):
            name = grade_id.split("_", 2)[2]
            cell.source += (
                f"\n\n\n_quiet_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
                "    import sys, warnings\n"
                "    warnings.warn('deprecated', UserWarning)\n"
                "    print('noise', file=sys.stderr)\n"
                f"    return _quiet_{name}(*args, **kwargs)\n"
            )
    _submit(course_root, NOISY, without_cell(noisy, "test_2_2_count_parameters"))

    seconds["autograde"] = run_nbgrader("autograde", ASSIGNMENT.id, "--force", course_root=course_root, env=env)
    seconds["autograde_per_notebook"] = seconds["autograde"] / 4
    print(f"\nnbgrader timings (s): {seconds}")

    from nbgrader.api import Gradebook

    scores: dict[str, Any] = {"seconds": seconds, "course_root": course_root}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", env["PATH"])
        with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
            for student in (SOLVED, UNTOUCHED, TAMPERED, NOISY):
                submission = gradebook.find_submission(ASSIGNMENT.id, student)
                notebook = gradebook.find_submission_notebook(ASSIGNMENT.id, ASSIGNMENT.id, student)
                scores[student] = {
                    "score": submission.score,
                    "max_score": submission.max_score,
                    "cells": {grade.name: grade.score for grade in notebook.grades},
                }
    yield scores


@pytest.mark.slow
def test_generate_assignment_releases_stubs_without_hidden_tests(autograded: dict[str, Any]) -> None:
    release = autograded["course_root"] / "release" / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb"
    text = release.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert solution_body_lines() & {line.strip() for line in text.splitlines()} == set()
    cells = _cells_by_id(nbformat.reads(text, as_version=4))
    assert cells["test_1_2_sigmoid"].metadata["editable"] is False
    assert cells["setup_imports"].metadata["deletable"] is False
    assert "NotImplementedError" in cells["ex1_2_sigmoid"].source


@pytest.mark.slow
def test_autograde_gives_the_solutions_full_marks(autograded: dict[str, Any]) -> None:
    solved = autograded[SOLVED]
    assert solved["max_score"] == ASSIGNMENT.points
    assert solved["score"] == ASSIGNMENT.points, solved["cells"]


@pytest.mark.slow
def test_autograde_gives_the_unmodified_release_zero(autograded: dict[str, Any]) -> None:
    untouched = autograded[UNTOUCHED]
    assert untouched["max_score"] == ASSIGNMENT.points
    assert untouched["score"] == 0, untouched["cells"]


@pytest.mark.slow
def test_autograde_restores_edited_and_deleted_test_cells(autograded: dict[str, Any]) -> None:
    tampered = autograded[TAMPERED]
    assert tampered["score"] == 0, tampered["cells"]
    assert set(tampered["cells"]) == {grade_cell_id(exercise) for exercise in EXERCISES}
    autograded_notebook = autograded["course_root"] / "autograded" / TAMPERED / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb"
    cells = _cells_by_id(nbformat.read(autograded_notebook, as_version=4))
    assert BEGIN_HIDDEN_TESTS in cells["test_1_3_relu"].source  # added back, hidden tests included
    assert BEGIN_HIDDEN_TESTS in cells["test_1_2_sigmoid"].source  # edited to `pass`, overwritten


@pytest.mark.slow
def test_warnings_and_stderr_from_student_code_cost_no_points(autograded: dict[str, Any]) -> None:
    noisy = autograded[NOISY]
    assert noisy["score"] == ASSIGNMENT.points, noisy["cells"]


@pytest.mark.slow
def test_coursekit_grade_gives_the_handed_back_notebooks_nbgraders_points(
    autograded: dict[str, Any], tmp_path: Path
) -> None:
    """The same four notebooks, graded by stock nbgrader and by `coursekit grade`, get the same totals."""
    from coursekit.grade.engine import grade_class

    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for student in (SOLVED, UNTOUCHED, TAMPERED, NOISY):
        notebook = autograded["course_root"] / "submitted" / student / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb"
        shutil.copy2(notebook, submissions / f"{student}.ipynb")
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=tmp_path / "out", jobs=2)
    coursekit_totals = {result.student_id: result.score for result in report.results}
    nbgrader_totals = {student: autograded[student]["score"] for student in (SOLVED, UNTOUCHED, TAMPERED, NOISY)}
    assert coursekit_totals == pytest.approx(nbgrader_totals)
