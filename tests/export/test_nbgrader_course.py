"""The nbgrader notebook and course: layout and metadata, the checks run in-process, and the real nbgrader CLI.

The slow tests run stock `nbgrader generate_assignment` and `nbgrader autograde` from this environment on
a temporary copy of the built course, with a kernelspec for this Python under a temporary Jupyter
directory, and read the scores from nbgrader's gradebook.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_styles import copy_notebook, correct_styles, solution_cells, styled_notebook
from repo_paths import REPO
from solution_lines import solution_body_lines

from coursekit.author.notebook import (
    BEGIN_HIDDEN_TESTS,
    _without_hidden_tests,
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
    """Execute the code cells in one namespace, as a kernel would, with the test cells' hidden parts left out (they
    grade the notebook's file at autograde); the exception each cell raised, by grade_id (or cell id)."""
    namespace: dict[str, Any] = {}
    outcome: dict[str, BaseException | None] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", cell.id)
        source = _without_hidden_tests((replace or {}).get(grade_id, cell.source))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, grade_id, "exec"), namespace)
            outcome[grade_id] = None
        except Exception as error:
            outcome[grade_id] = error
    return outcome


@pytest.fixture(autouse=True)
def given_modules_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The public tests' fixtures import the given modules, which the release puts beside the notebook."""
    monkeypatch.syspath_prepend(str(REPO / "data"))


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
            "def sigmoid(x):\n    return 1.0 / (1.0 + torch.exp(x))\n",
            "test_1_2_sigmoid",
            "sigmoid differs from torch.nn.functional's",
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
            "the gradients add up from epoch to epoch",
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


# The real nbgrader CLI: the course, generate_assignment, autograde, validate and export.

SOLVED, UNTOUCHED, TAMPERED, NOISY = "solved", "untouched", "tampered", "noisy"
# Mutants pasted into the release notebook, taken in turn from each solution cell (about 4 s of autograde each).
MUTANTS = 13
VALIDATE_SCRIPT = """
import json, sys
from nbgrader.validator import Validator

validator = Validator()
print(json.dumps({path: bool(validator.validate(path).get("failed")) for path in sys.argv[1:]}))
"""


def _submit(course_root: Path, student: str, notebook: nbformat.NotebookNode) -> Path:
    folder = course_root / "submitted" / student / ASSIGNMENT.id
    folder.mkdir(parents=True)
    path = folder / f"{ASSIGNMENT.id}.ipynb"
    nbformat.write(notebook, path)
    return path


def _mutants() -> list[Any]:
    from coursekit.check.checker import load_mutants

    mutants, problems = load_mutants(
        mutants_dir=REPO / "graders" / "mutants", course=COURSE, solutions_dir=REPO / "solutions"
    )
    assert not problems
    return mutants


PUBLIC_TESTS_SCRIPT = """
import contextlib, io, json, sys
from pathlib import Path

import pytest

failed = {}
for folder in sys.argv[1:]:
    earlier = str(Path(folder).parent)  # every folder's modules share their names: activations, conftest, ...
    for name in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", "") or "").startswith(earlier)]:
        del sys.modules[name]
    with contextlib.redirect_stdout(io.StringIO()):
        status = pytest.main([folder, "-q", "-x", "-c", str(Path(folder) / "pytest.ini"), "--rootdir", folder])
    assert status in (0, 1), (folder, status)
    failed[Path(folder).name] = status == 1
print(json.dumps(failed))
"""


def _public_tests_fail(mutants: dict[str, Any], tmp: Path) -> dict[str, bool]:
    """Whether the script release's public tests (`pytest` in the student folder) fail with each mutant's bug."""
    from coursekit.author.release import collect_student_files
    from coursekit.check.checker import write_mutant_handin

    course = load_course(REPO / "course.yml")
    release_files = collect_student_files(course_dir=REPO, course=course)
    part_files = {part.file for part in course.assignment.parts}
    folders = []
    for student, mutant in mutants.items():
        folder = write_mutant_handin(
            mutant=mutant, solutions_dir=REPO / "solutions", data_dir=REPO / "data", target=tmp / student
        )
        for name, content in release_files.items():  # the student folder around the hand-in's own modules
            if name not in part_files:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
        folders.append(str(folder))
    # One process for every folder: torch is imported once.
    result = subprocess.run(
        [sys.executable, "-c", PUBLIC_TESTS_SCRIPT, *folders], capture_output=True, text=True, timeout=1800, cwd=tmp
    )
    assert result.returncode == 0, result.stdout + result.stderr
    failed: dict[str, bool] = json.loads(result.stdout.splitlines()[-1])
    return failed


def _pasted(filled: nbformat.NotebookNode, mutant: Any) -> tuple[str, nbformat.NotebookNode] | None:
    """The filled-in notebook with the mutant's replacement pasted into the one solution cell holding the text it
    replaces (a cell's source has no final newline), and that cell's grade_id; None when no one cell holds it."""
    notebook = copy_notebook(filled)
    for replace, replacement in (
        (mutant.replace, mutant.replacement),
        (mutant.replace.rstrip("\n"), mutant.replacement.rstrip("\n")),
    ):
        cells = [(g, c) for g, c in solution_cells(notebook).items() if c.source.count(replace) == 1]
        if len(cells) == 1:
            grade_id, cell = cells[0]
            cell.source = cell.source.replace(replace, replacement)
            return grade_id, notebook
    return None


@pytest.fixture(scope="module")
def autograded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the course, generate the release, hand in notebooks (solved, untouched, tampered, noisy, realistic bugs
    and unusual correct styles, all pasted into the release notebook), autograde them, grade them with `coursekit
    grade`, and validate the students' own copies."""
    from coursekit.grade.engine import grade_class

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
    # A second course with the assignment generated and nothing graded: `coursekit export-nbgrader` fills it.
    fresh_root = tmp / "fresh"
    shutil.copytree(course_root, fresh_root)

    release = nbformat.read(course_root / "release" / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb", as_version=4)
    filled = filled_notebook(release, course_dir=REPO)

    def without_cell(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
        notebook.cells = [
            cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id
        ]
        return notebook

    notebooks: dict[str, nbformat.NotebookNode] = {SOLVED: copy_notebook(filled), UNTOUCHED: copy_notebook(release)}
    # Unsolved, every test cell emptied and one deleted: autograde must restore them and still give zero.
    tampered = copy_notebook(release)
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    notebooks[TAMPERED] = without_cell(tampered, "test_1_3_relu")
    # Solved, but sigmoid and training_loop warn and write to stderr, and a test cell is deleted.
    noisy = copy_notebook(filled)
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
    notebooks[NOISY] = without_cell(noisy, "test_2_2_count_parameters")
    for name, sources in correct_styles().items():
        notebooks[name] = styled_notebook(filled, sources)
    # Realistic bugs: mutants pasted into the filled-in cells, taken in turn from each solution cell that has some.
    by_cell: dict[str, list[tuple[str, Any, nbformat.NotebookNode]]] = {}
    for mutant in _mutants():
        pasted_ = _pasted(filled, mutant)
        if pasted_ is not None:
            by_cell.setdefault(pasted_[0], []).append((f"mutant-{mutant.name}", mutant, pasted_[1]))
    chosen: dict[str, Any] = {}
    pasted: dict[str, int] = {}
    while len(chosen) < MUTANTS and any(by_cell.values()):
        for grade_id, entries in by_cell.items():
            if entries and len(chosen) < MUTANTS:
                student, mutant, notebook = entries.pop(0)
                chosen[student] = mutant
                notebooks[student] = notebook
                pasted[grade_id] = pasted.get(grade_id, 0) + 1
    catches = _public_tests_fail(chosen, tmp / "public")
    paths = {student: _submit(course_root, student, notebook) for student, notebook in notebooks.items()}

    started = time.perf_counter()
    run_nbgrader("autograde", ASSIGNMENT.id, "--force", course_root=course_root, env=env)
    seconds["autograde"] = time.perf_counter() - started
    seconds["autograde_per_notebook"] = seconds["autograde"] / len(notebooks)

    submissions = tmp / "submissions"
    submissions.mkdir()
    for student, path in paths.items():
        shutil.copy2(path, submissions / f"{student}.ipynb")
    started = time.perf_counter()
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=tmp / "out", jobs=2)
    seconds["coursekit_grade"] = time.perf_counter() - started

    # `nbgrader validate` on each student's own copy (the release notebook, no hidden tests), in its release folder.
    validated = tmp / "validate"
    for student, notebook in notebooks.items():
        if student in (TAMPERED, NOISY):
            continue
        folder = validated / student
        shutil.copytree(course_root / "release" / ASSIGNMENT.id, folder)
        nbformat.write(notebook, folder / f"{ASSIGNMENT.id}.ipynb")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", VALIDATE_SCRIPT, *sorted(str(p) for p in validated.glob(f"*/{ASSIGNMENT.id}.ipynb"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    seconds["validate"] = time.perf_counter() - started
    validate_fails = {
        Path(path).parent.name: failed for path, failed in json.loads(result.stdout.splitlines()[-1]).items()
    }
    print(f"\nnbgrader timings (s), {len(notebooks)} notebooks: {seconds}")

    from nbgrader.api import Gradebook

    nbgrader_points: dict[str, dict[str, float]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", env["PATH"])
        with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
            for student in notebooks:
                notebook = gradebook.find_submission_notebook(ASSIGNMENT.id, ASSIGNMENT.id, student)
                nbgrader_points[student] = {grade.name: float(grade.score) for grade in notebook.grades}
    coursekit_points: dict[str, dict[str, float]] = {}
    for result_ in report.results:
        points = {grade_cell_id(exercise): 0.0 for exercise in EXERCISES}
        for verdict in result_.verdicts:
            _, exercise = ASSIGNMENT.exercise(verdict.exercise)
            points[grade_cell_id(exercise)] += verdict.score
        coursekit_points[result_.student_id] = points
    print(f"{'notebook':<48} {'nbgrader':>9} {'coursekit':>9}  public tests / validate fail")
    for student in notebooks:
        print(
            f"{student:<48} {sum(nbgrader_points[student].values()):>9g} {sum(coursekit_points[student].values()):>9g}"
            f"  {catches.get(student, '-')} / {validate_fails.get(student, '-')}"
        )
    yield {
        "seconds": seconds,
        "course_root": course_root,
        "fresh_root": fresh_root,
        "env": env,
        "out": tmp / "out",
        "nbgrader": nbgrader_points,
        "coursekit": coursekit_points,
        "catches": catches,
        "validate_fails": validate_fails,
        "pasted": pasted,
    }


def _total(points: dict[str, float]) -> float:
    return sum(points.values())


@pytest.mark.slow
def test_generate_assignment_releases_stubs_without_hidden_tests(autograded: dict[str, Any]) -> None:
    release = autograded["course_root"] / "release" / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb"
    text = release.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "notebook_exercise_score" not in text
    assert solution_body_lines() & {line.strip() for line in text.splitlines()} == set()
    cells = _cells_by_id(nbformat.reads(text, as_version=4))
    assert cells["test_1_2_sigmoid"].metadata["editable"] is False
    assert cells["setup_imports"].metadata["deletable"] is False
    assert "NotImplementedError" in cells["ex1_2_sigmoid"].source
    # The given module and the data ship beside the notebook; the graders stay in the instructor's course.
    assert (release.parent / "temperature_data.py").is_file() and (
        release.parent / "data" / "temperature.csv"
    ).is_file()
    assert not list(release.parent.rglob("test_*.py"))
    # The course autograde grades with sits beside nbgrader_config.py, which points the kernel at it.
    grading = autograded["course_root"] / "grading"
    assert (grading / "course.yml").is_file() and (grading / "graders" / "test_activations.py").is_file()
    config = (autograded["course_root"] / "nbgrader_config.py").read_text(encoding="utf-8")
    assert (
        'os.environ["COURSEKIT_COURSE"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading")' in config
    )


@pytest.mark.slow
def test_the_course_holds_at_least_twelve_realistic_bugs_across_the_exercises(autograded: dict[str, Any]) -> None:
    assert len(autograded["catches"]) >= 12
    assert len(autograded["pasted"]) >= 8  # solution cells with a pasted bug


@pytest.mark.slow
def test_autograde_gives_every_exercise_of_every_notebook_coursekits_points(autograded: dict[str, Any]) -> None:
    """Stock nbgrader autograde and `coursekit grade` agree per exercise, for bugs, unusual styles and tampering."""
    nbgrader, coursekit = autograded["nbgrader"], autograded["coursekit"]
    assert set(nbgrader) == set(coursekit)
    for student in nbgrader:
        assert nbgrader[student] == pytest.approx(coursekit[student], abs=1e-6), student


@pytest.mark.slow
def test_the_solutions_and_the_correct_styles_get_full_marks_and_the_release_zero(autograded: dict[str, Any]) -> None:
    nbgrader = autograded["nbgrader"]
    for student in (SOLVED, NOISY, *correct_styles()):
        assert _total(nbgrader[student]) == ASSIGNMENT.points, (student, nbgrader[student])
    assert _total(nbgrader[UNTOUCHED]) == 0 and _total(nbgrader[TAMPERED]) == 0
    for student, points in nbgrader.items():
        if student.startswith("mutant-"):
            assert _total(points) < ASSIGNMENT.points, student


@pytest.mark.slow
def test_autograde_restores_edited_and_deleted_test_cells(autograded: dict[str, Any]) -> None:
    assert set(autograded["nbgrader"][TAMPERED]) == {grade_cell_id(exercise) for exercise in EXERCISES}
    autograded_notebook = autograded["course_root"] / "autograded" / TAMPERED / ASSIGNMENT.id / f"{ASSIGNMENT.id}.ipynb"
    cells = _cells_by_id(nbformat.read(autograded_notebook, as_version=4))
    assert BEGIN_HIDDEN_TESTS in cells["test_1_3_relu"].source  # added back, hidden tests included
    assert BEGIN_HIDDEN_TESTS in cells["test_1_2_sigmoid"].source  # edited to `pass`, overwritten


@pytest.mark.slow
def test_validate_fails_exactly_where_the_public_tests_fail(autograded: dict[str, Any]) -> None:
    validate_fails = autograded["validate_fails"]
    expected = {**autograded["catches"], SOLVED: False, UNTOUCHED: True, **dict.fromkeys(correct_styles(), False)}
    assert validate_fails == expected
    assert any(expected.values()) and not all(expected.values())


@pytest.mark.slow
def test_coursekit_grade_in_nbgraders_gradebook_shows_in_nbgrader_export(autograded: dict[str, Any]) -> None:
    """The safe path: `coursekit export-nbgrader` writes coursekit's points into a gradebook that only
    generate_assignment touched; stock `nbgrader export` then reports coursekit's totals."""
    from coursekit.export.nbgrader import write_gradebook

    fresh = autograded["fresh_root"]
    report = write_gradebook(out_dir=autograded["out"], course_root=fresh, course=COURSE)
    assert sorted(report.written) == sorted(autograded["coursekit"]) and report.not_graded == []
    run_nbgrader("export", course_root=fresh, env=autograded["env"])
    with (fresh / "grades.csv").open(encoding="utf-8", newline="") as file:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert exported == pytest.approx({student: _total(p) for student, p in autograded["coursekit"].items()})
