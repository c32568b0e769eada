"""The notebook's test and data cells come from the course: its checks files, its shared checks and its data.

Built for a small course written here (one part, ops.py, with square and cube), so nothing in the tool may
lean on chapter 6's names.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest

from coursekit.author.notebook import (
    BEGIN_HIDDEN_TESTS,
    NotebookBuildError,
    build_notebook,
    data_grade_id,
    grade_cell_id,
)
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
  notebook_checks: graders/notebook
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

SHARED = '''"""Checks that square and cube share."""

import math


def check_at_two(function, expected):
    assert math.isclose(function(2.0), expected), f"{function.__name__}(2.0) should be {expected}"


### BEGIN HIDDEN TESTS
def check_negative(function, expected):
    assert function(-2.0) == expected, "a negative input"


### END HIDDEN TESTS
'''

SQUARE = '''"""The notebook's checks for square."""

import math

from _shared import check_at_two, check_negative
from ops import square

check_at_two(square, 4.0)
### BEGIN HIDDEN TESTS
check_negative(square, 4.0)
assert math.isclose(square(0.5), 0.25), "square(0.5) is a quarter"
### END HIDDEN TESTS
'''

CUBE = '''"""The notebook's checks for cube."""

from _shared import check_at_two
from ops import cube

check_at_two(cube, 8.0)
### BEGIN HIDDEN TESTS
assert cube(-1.0) == -1.0, "cube(-1.0) is -1.0"
### END HIDDEN TESTS
'''


def write_course(root: Path, **replaced: str) -> Path:
    files = {
        "course.yml": COURSE_YML,
        "solutions/ops.py": SOLUTION,
        "graders/pytest.ini": "[pytest]\nmarkers =\n    points(value, exercise): points\n",
        "graders/test_ops.py": GRADERS,
        "graders/notebook/_shared.py": SHARED,
        "graders/notebook/square.py": SQUARE,
        "graders/notebook/cube.py": CUBE,
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


def run_cells(notebook: nbformat.NotebookNode) -> tuple[dict[str, BaseException | None], dict[str, Any]]:
    namespace: dict[str, Any] = {}
    outcome: dict[str, BaseException | None] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, cell.id, "exec"), namespace)
            outcome[cell.id] = None
        except Exception as error:
            outcome[cell.id] = error
    return outcome, namespace


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_course(tmp_path_factory.mktemp("ops"))


def test_a_test_cell_is_its_checks_file_with_the_shared_checks_laid_in(course_dir: Path) -> None:
    course = load_course(course_dir / "course.yml")
    square = course.assignment.parts[0].exercises[0]
    source = cells_by_id(build_notebook(course_dir=course_dir, with_solutions=True))[grade_cell_id(square)].source

    body = source.split('warnings.simplefilter("ignore")\n', 1)[1].rsplit("\n\n\n", 1)[0]
    assert textwrap.dedent(body) == (
        "import math\n"
        "\n"
        "import math\n"
        "\n"
        "\n"
        "def check_at_two(function, expected):\n"
        '    assert math.isclose(function(2.0), expected), f"{function.__name__}(2.0) should be {expected}"\n'
        "\n"
        "\n"
        f"{BEGIN_HIDDEN_TESTS}\n"
        "def check_negative(function, expected):\n"
        '    assert function(-2.0) == expected, "a negative input"\n'
        "\n"
        "\n"
        "### END HIDDEN TESTS\n"
        "\n"
        "check_at_two(square, 4.0)\n"
        f"{BEGIN_HIDDEN_TESTS}\n"
        "check_negative(square, 4.0)\n"
        'assert math.isclose(square(0.5), 0.25), "square(0.5) is a quarter"\n'
        "### END HIDDEN TESTS"
    )
    assert source.endswith("\n\n\ncheck_exercise_1_1()")


def test_the_student_notebook_keeps_the_visible_checks_only(course_dir: Path) -> None:
    student = cells_by_id(build_notebook(course_dir=course_dir, with_solutions=False))
    for grade_id in ("test_1_1_square", "test_1_2_cube"):
        source = student[grade_id].source
        assert "check_at_two(" in source and "HIDDEN" not in source and "check_negative" not in source


def test_the_source_notebook_passes_its_checks_and_a_wrong_cube_fails_them(course_dir: Path) -> None:
    source = build_notebook(course_dir=course_dir, with_solutions=True)
    outcome, _ = run_cells(source)
    assert {cell: error for cell, error in outcome.items() if error is not None} == {}

    cells_by_id(source)["ex1_2_cube"].source = "def cube(x):\n    return x * x * abs(x)\n"
    outcome, _ = run_cells(source)
    error = outcome["test_1_2_cube"]
    assert isinstance(error, AssertionError) and "cube(-1.0) is -1.0" in str(error)


def test_each_csv_data_file_becomes_a_locked_cell_of_its_columns(course_dir: Path) -> None:
    notebook = build_notebook(course_dir=course_dir, with_solutions=False)
    cell = cells_by_id(notebook)[data_grade_id("data/points.csv")]
    assert cell.id == "data_points"
    assert cell.metadata["nbgrader"]["locked"] is True and cell.metadata["nbgrader"]["grade"] is False
    assert not [other for other in notebook.cells if other.id.startswith("data_") and other is not cell]

    _, namespace = run_cells(notebook)
    assert namespace["x"].tolist() == [[1.0], [2.0]]
    assert namespace["y"].tolist() == [[2.5], [-3.0]]


@pytest.mark.parametrize(
    ("replaced", "message"),
    [
        (
            {"graders/notebook/cube.py": None},
            "exercise 1.2 (cube) has no notebook checks: write graders/notebook/cube.py",
        ),
        (
            {"graders/notebook/cube.py": CUBE.replace("### END HIDDEN TESTS\n", "")},
            "graders/notebook/cube.py, line 7: ### BEGIN HIDDEN TESTS is never closed",
        ),
        (
            {"graders/notebook/cube.py": CUBE.replace("### BEGIN HIDDEN TESTS", "# BEGIN HIDDEN TESTS, these")},
            "graders/notebook/cube.py, line 7: a fence must be a line of its own",
        ),
        (
            {"graders/notebook/_shared.py": SHARED + "\nfrom cube import cube\n"},
            "graders/notebook/cube.py, line 3: the shared checks import each other "
            "(square.py -> _shared.py -> cube.py -> _shared.py)",
        ),
        ({"data/points.csv": "x,y value\n1,2\n"}, "data/points.csv: the column 'y value' cannot name a tensor"),
        ({"data/points.csv": "x,y\n1,two\n"}, "data/points.csv, line 2: 'two' is not a number"),
        (
            {"course.yml": COURSE_YML.replace("chapter:\n  notebook_checks: graders/notebook\n", "")},
            "no chapter.notebook_checks",
        ),
    ],
)
def test_a_course_the_notebook_cannot_be_built_from_is_named(
    tmp_path: Path, replaced: dict[str, str | None], message: str
) -> None:
    root = write_course(tmp_path, **{name: text for name, text in replaced.items() if text is not None})
    for name, text in replaced.items():
        if text is None:
            (root / name).unlink()
    with pytest.raises(NotebookBuildError) as raised:
        build_notebook(course_dir=root, with_solutions=True)
    assert message in str(raised.value)
