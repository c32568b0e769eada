"""The notebook's test cells: each exercise's public tests laid in, the graders' points hidden behind them.

The first tests build a small course written here (one part, ops.py, with square and cube), so nothing in the
tool may lean on chapter 6's names. The last ones prove, on the chapter's course, that the public tests, the
notebook's checks and the hidden graders accept the same correct hand-ins, in every style the project's tests hold.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_styles import correct_styles, style_modules, styled_notebook
from repo_paths import REPO

from coursekit.author.notebook import (
    BEGIN_HIDDEN_TESTS,
    NotebookBuildError,
    _without_hidden_tests,
    build_notebook,
    data_grade_id,
    filled_notebook,
    grade_cell_id,
)
from coursekit.author.release import collect_student_files
from coursekit.config import load_course

COURSE_YML = """
title: Operations
book: {title: A book, authors: Someone, chapter: 1, chapter_title: Operations}
assignment:
  id: ops
  title: Operations on tensors
  parts:
    - id: ops
      title: Operations
      file: ops.py
      points: 10
      exercises: [{id: "1.1", name: square, title: Squares}, {id: "1.2", name: cube, title: Cubes}]
data: [data/points.csv, data/notes.txt]
chapter:
  notebook_finale: graders/notebook/finale.py
limits: {time_seconds: 10, memory_mb: 512, processes: 8, output_kb: 1, file_size_mb: 1, open_files: 32}
intake: {max_total_mb: 1, max_entries: 50}
"""

SOLUTION = '''"""Exercise 1: powers."""


def square(x):
    """x * x."""
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION


def cube(x):
    """x * x * x."""
    ### BEGIN SOLUTION
    return x * x * x
    ### END SOLUTION
'''

GRADERS = """
import pytest


@pytest.mark.points(4, exercise="1.1")
def test_square():
    pass


@pytest.mark.points(6, exercise="1.2")
def test_cube():
    pass
"""

PUBLIC_TESTS = '''"""Public tests for ops.py."""

import math

import pytest
from ops import cube, square

TOLERANCE = 1e-9


def close(a, b):
    return math.isclose(a, b, abs_tol=TOLERANCE)


def unused_helper():
    return "never laid in"


@pytest.mark.exercise_1_1
def test_1_1_square_of_two():
    assert close(square(2.0), 4.0), f"square(2.0) should be 4.0, got {square(2.0)}"


def test_1_2_cube_of_the_points(points):
    for x in points:
        assert close(cube(x), x**3), f"cube({x}) should be {x ** 3}, got {cube(x)}"
'''

CONFTEST = '''"""Fixtures."""

import random

import pytest


@pytest.fixture
def points():
    """A few inputs."""
    return [-2.0, 0.5, 3.0]


@pytest.fixture(autouse=True)
def fixed_seed():
    random.seed(0)
'''

FINALE = '''"""# Putting it together

Cubes of the data's x.
"""

from ops import cube

print([cube(v) for v in x.flatten().tolist()])
'''


def write_course(root: Path, **replaced: str) -> Path:
    files = {
        "course.yml": COURSE_YML,
        "solutions/ops.py": SOLUTION,
        "graders/pytest.ini": "[pytest]\nmarkers =\n    points(value, exercise): points\n",
        "graders/test_ops.py": GRADERS,
        "graders/notebook/finale.py": FINALE,
        "exercises/tests/test_ops.py": PUBLIC_TESTS,
        "exercises/tests/conftest.py": CONFTEST,
        "data/points.csv": "x,y\n1.0,2.5\n2,-3\n",
        "data/notes.txt": "not a table\n",
        **replaced,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cells_by_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {cell.id: cell for cell in notebook.cells}


def run_cells(
    notebook: nbformat.NotebookNode, *, main: bool = False, tests: set[str] | None = None
) -> tuple[dict[str, BaseException | None], str]:
    """Run the code cells in one namespace, hidden parts left out (only the test cells in `tests`, if given); each
    cell's exception, and what they printed."""
    namespace: dict[str, Any] = {"__name__": "__main__"} if main else {}
    outcome: dict[str, BaseException | None] = {}
    printed = io.StringIO()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if tests is not None and cell.metadata.get("nbgrader", {}).get("grade") and cell.id not in tests:
            continue
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(_without_hidden_tests(cell.source), cell.id, "exec"), namespace)
            outcome[cell.id] = None
        except Exception as error:
            outcome[cell.id] = error
    return outcome, printed.getvalue()


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_course(tmp_path_factory.mktemp("ops"))


def test_a_test_cell_holds_its_exercises_public_tests_and_what_they_use(course_dir: Path) -> None:
    course = load_course(course_dir / "course.yml")
    square, cube = course.assignment.parts[0].exercises
    cells = cells_by_id(build_notebook(course_dir=course_dir, with_solutions=True))
    square_cell, cube_cell = cells[grade_cell_id(square)].source, cells[grade_cell_id(cube)].source
    assert "def test_1_1_square_of_two():" in square_cell and "test_1_2" not in square_cell
    assert "def test_1_2_cube_of_the_points(points):" in cube_cell and "test_1_1" not in cube_cell
    for source in (square_cell, cube_cell):
        assert "def close(a, b):" in source and "TOLERANCE = 1e-9" in source and "import math" in source
        assert "unused_helper" not in source and "from ops import" not in source and "@pytest" not in source
        assert "def fixed_seed():" in source and "            fixed_seed()\n" in source
    assert "def points():" in cube_cell and "points=points()" in cube_cell and "def points" not in square_cell
    assert f"    {BEGIN_HIDDEN_TESTS}\n" in square_cell
    assert "return notebook_exercise_score('1.1', notebook='ops.ipynb')" in square_cell


def test_the_student_notebook_keeps_the_public_tests_only(course_dir: Path) -> None:
    student = cells_by_id(build_notebook(course_dir=course_dir, with_solutions=False))
    for grade_id in ("test_1_1_square", "test_1_2_cube"):
        source = student[grade_id].source
        assert "def test_1_" in source and "HIDDEN" not in source and "notebook_exercise_score" not in source


def test_the_public_tests_pass_on_the_solutions_and_a_wrong_cube_fails_them_with_their_message(
    course_dir: Path,
) -> None:
    source = build_notebook(course_dir=course_dir, with_solutions=True)
    outcome, _ = run_cells(source)
    assert {cell: error for cell, error in outcome.items() if error is not None} == {}

    cells_by_id(source)["ex1_2_cube"].source = "def cube(x):\n    return x * x * abs(x)\n"
    outcome, _ = run_cells(source)
    error = outcome["test_1_2_cube"]
    assert isinstance(error, AssertionError) and "cube(-2.0) should be -8.0, got 8.0" in str(error)
    assert outcome["test_1_1_square"] is None


def test_the_finale_ends_the_notebook_and_runs_in_the_notebook_only(
    course_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = build_notebook(course_dir=course_dir, with_solutions=True)
    heading, code = notebook.cells[-2:]
    assert heading.source.startswith("# Putting it together") and "nbgrader" not in code.metadata
    assert "from ops import" not in code.source
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    _, printed = run_cells(notebook, main=True)
    assert "[[1.0], [8.0]]" not in printed and "[1.0, 8.0]" in printed  # the data cell's x, cubed
    _, printed = run_cells(notebook, main=False)  # imported as a module, as grading does
    assert "[1.0, 8.0]" not in printed
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    _, printed = run_cells(notebook, main=True)
    assert "[1.0, 8.0]" not in printed


def test_each_csv_data_file_becomes_a_locked_cell_of_its_columns(course_dir: Path) -> None:
    notebook = build_notebook(course_dir=course_dir, with_solutions=False)
    cell = cells_by_id(notebook)[data_grade_id("data/points.csv")]
    assert cell.id == "data_points"
    assert cell.metadata["nbgrader"]["locked"] is True and cell.metadata["nbgrader"]["grade"] is False
    assert not [other for other in notebook.cells if other.id.startswith("data_") and other is not cell]
    namespace: dict[str, Any] = {}
    exec(cell.source, namespace)
    assert namespace["x"].tolist() == [[1.0], [2.0]]
    assert namespace["y"].tolist() == [[2.5], [-3.0]]


@pytest.mark.parametrize(
    ("replaced", "message"),
    [
        (
            {"exercises/tests/test_ops.py": PUBLIC_TESTS.replace("def test_1_2_cube", "def test_cube")},
            "exercise 1.2 (cube) has no public tests: write a test_1_2_... function in exercises/tests",
        ),
        (
            {
                "exercises/tests/test_ops.py": PUBLIC_TESTS.replace(
                    "@pytest.mark.exercise_1_1", '@pytest.mark.parametrize("x", [1.0])'
                )
            },
            "exercises/tests/test_ops.py, line 20: a notebook cannot run a parametrized test",
        ),
        (
            {
                "exercises/tests/conftest.py": CONFTEST.replace(
                    "    return [-2.0, 0.5, 3.0]", "    yield [-2.0, 0.5, 3.0]"
                )
            },
            "exercises/tests/conftest.py, line 9: fixture points takes fixtures or yields",
        ),
        (
            {"exercises/tests/test_ops.py": PUBLIC_TESTS.replace("(points):", "(tmp_path):")},
            "test_1_2_cube_of_the_points takes tmp_path, which is no fixture of exercises/tests/conftest.py",
        ),
        ({"data/points.csv": "x,y value\n1,2\n"}, "data/points.csv: the column 'y value' cannot name a tensor"),
        ({"data/points.csv": "x,y\n1,two\n"}, "data/points.csv, line 2: 'two' is not a number"),
        ({"graders/notebook/finale.py": "print(1)\n"}, "graders/notebook/finale.py: the finale needs a docstring"),
    ],
)
def test_a_course_the_notebook_cannot_be_built_from_is_named(
    tmp_path: Path, replaced: dict[str, str], message: str
) -> None:
    root = write_course(tmp_path, **replaced)
    with pytest.raises(NotebookBuildError) as raised:
        build_notebook(course_dir=root, with_solutions=True)
    assert message in str(raised.value)


# --- the chapter's course: one verdict on every correct style --------------------------------------------------

GRADE_SCRIPT = """
import json, sys
from coursekit.export.nbgrader import notebook_exercise_score

exercises, paths = json.loads(sys.argv[1]), sys.argv[2:]
print(json.dumps({path: {e: notebook_exercise_score(e, notebook=path) for e in exercises} for path in paths}))
"""


def graders_points(paths: list[Path]) -> dict[str, dict[str, float]]:
    """Each notebook's points per exercise from the grading kernel's function (a fresh process, as a kernel is)."""
    course = load_course(REPO / "course.yml")
    exercises = [exercise.id for part in course.assignment.parts for exercise in part.exercises]
    result = subprocess.run(
        [sys.executable, "-c", GRADE_SCRIPT, json.dumps(exercises), *map(str, paths)],
        env={**os.environ, "COURSEKIT_COURSE": str(REPO), "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    points: dict[str, dict[str, float]] = json.loads(result.stdout.splitlines()[-1])
    return points


def public_tests_pass(files: dict[str, str], folder: Path) -> tuple[bool, str]:
    """Whether `pytest` in a student folder holding these modules passes the public tests."""
    for name, content in collect_student_files(course_dir=REPO, course=load_course(REPO / "course.yml")).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode == 0, result.stdout[-3000:]


@pytest.fixture(scope="module")
def chapter_release() -> nbformat.NotebookNode:
    return build_notebook(course_dir=REPO, with_solutions=False)


@pytest.fixture(autouse=True)
def given_modules_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "data"))


@pytest.mark.slow
def test_every_correct_style_passes_the_public_tests_the_notebook_checks_and_the_graders(
    chapter_release: nbformat.NotebookNode, tmp_path: Path
) -> None:
    course = load_course(REPO / "course.yml")
    filled = filled_notebook(chapter_release, course_dir=REPO)
    paths = []
    for name, sources in correct_styles().items():
        passed, output = public_tests_pass(style_modules(sources), tmp_path / name)
        assert passed, f"{name}: the public tests fail:\n{output}"
        notebook = styled_notebook(filled, sources)
        outcome, _ = run_cells(notebook)
        assert {cell: repr(error) for cell, error in outcome.items() if error is not None} == {}, name
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    expected = {exercise.id: None for part in course.assignment.parts for exercise in part.exercises}
    for path, points in graders_points(paths).items():
        assert sum(points.values()) == course.assignment.points, (path, points)
        assert points.keys() == expected.keys()


# Axis labels (x, y) and whether a correct plot_fit drawing them is right, as the graders judge it.
LABELS = [
    (("Fahrenheit", "Celsius"), True),
    (("Temperature (°F)", "Temperature (°C)"), True),
    (("° F", "° C"), True),
    (("degrees FAHRENHEIT", "degrees celsius"), True),
    (("fahrenheit [F]", "Celsius"), True),
    (("Celsius", "Fahrenheit"), False),
    (("F", "C"), False),
    (("temperature", "temperature"), False),
    (("", ""), False),
]


@pytest.mark.slow
def test_the_public_test_and_the_graders_accept_the_same_axis_labels(
    chapter_release: nbformat.NotebookNode, tmp_path: Path
) -> None:
    """The one check both sides make of a label: the public test passes exactly when the graders give its points."""
    filled = filled_notebook(chapter_release, course_dir=REPO)
    plot_cell = None
    for cell in filled.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex3_3_plot_fit":
            plot_cell = cell
    assert plot_cell is not None and 'set_xlabel("Fahrenheit")' in plot_cell.source
    paths, public = [], {}
    for number, ((x, y), _) in enumerate(LABELS):
        notebook = nbformat.from_dict(json.loads(json.dumps(filled)))
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex3_3_plot_fit":
                cell.source = cell.source.replace('set_xlabel("Fahrenheit")', f"set_xlabel({x!r})").replace(
                    'set_ylabel("Celsius")', f"set_ylabel({y!r})"
                )
        outcome, _ = run_cells(notebook, tests={"test_3_3_plot_fit"})
        public[number] = outcome["test_3_3_plot_fit"] is None
        path = tmp_path / f"labels-{number}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    from coursekit.grade.engine import grader_points

    full = grader_points((REPO / "graders").resolve())["3.3"]
    points = graders_points(paths)
    for number, ((x, y), accepted) in enumerate(LABELS):
        graded = points[str(paths[number])]["3.3"] == full
        assert (public[number], graded) == (accepted, accepted), (x, y)
