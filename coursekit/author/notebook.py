"""The assignment as one nbgrader notebook, built with nbformat from solutions/ (the single source).

Layout, top to bottom: the assignment's title and instructions; a locked set-up cell (the solution
modules' imports, merged); a locked data cell per .csv file in course.yml's ``data`` (each column as a
tensor); then per part a heading with the module's docstring and, per exercise, a heading
``## Exercise 1.2 — square, without a loop``, the exercise's code as an nbgrader solution cell
(``ex1_2_square``, fences kept) and a locked, autograded test cell (``test_1_2_square``). The test cells'
points per part add up to the part's points in course.yml.

An exercise's test cell is the course's ``<chapter.notebook_checks>/<exercise name>.py`` (e.g.
``graders/notebook/square.py``): a Python file that ruff and mypy check like any other, laid into the cell
as it stands, less its docstring and its imports of the student's modules (``from ops import square``: the
notebook defines those names). Its hidden checks sit between nbgrader's ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` lines. An import from a file of the same folder (``from _shared import check``) is
replaced by that file's code, so checks that several exercises share are written once.

Two of nbgrader's traps shape the test cells. A test cell that writes anything to stderr scores zero,
so every test cell runs its checks with warnings and stderr silenced (a failed check still raises).
nbgrader shows hidden tests verbatim in its feedback, so the checks should compare with the library's own
functions and test properties; they never spell out a reference implementation.
"""

from __future__ import annotations

import ast
import csv
import keyword
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat
from nbformat import NotebookNode

from coursekit.author.stubs import BEGIN_FENCE, END_FENCE, stub_source
from coursekit.config import Course, Exercise, Part, load_course
from coursekit.errors import CoursekitError

BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
NBGRADER_SCHEMA_VERSION = 3
SETUP_GRADE_ID = "setup_imports"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookBuildError(CoursekitError, ValueError):
    """The solutions cannot be laid out as a notebook (an exercise without code or without checks)."""


def notebook_name(course: Course) -> str:
    """The notebook's name (without .ipynb), which is also nbgrader's notebook id: the assignment id."""
    return course.assignment.id


def solution_grade_id(exercise: Exercise) -> str:
    """The nbgrader grade_id of an exercise's solution cell, e.g. ``ex1_2_square``."""
    return f"ex{exercise.id.replace('.', '_')}_{exercise.name}"


def grade_cell_id(exercise: Exercise) -> str:
    """The nbgrader grade_id of an exercise's autograded test cell (a grade cell), e.g. ``test_1_2_square``."""
    return f"test_{exercise.id.replace('.', '_')}_{exercise.name}"


def exercise_points(part: Part, *, course_dir: Path) -> list[float]:
    """Each exercise's points, as the hidden graders give them, so nbgrader and `coursekit grade` agree.

    The graders are collected (not run); their points per part must add up to course.yml's.
    """
    from coursekit.grade.engine import grader_points

    points = grader_points((course_dir / "graders").resolve())
    shares = [points.get(exercise.id, 0.0) for exercise in part.exercises]
    if abs(sum(shares) - part.points) > 1e-9 or not all(shares):
        given = ", ".join(f"{exercise.id}: {share:g}" for exercise, share in zip(part.exercises, shares, strict=True))
        raise NotebookBuildError(
            f"part {part.id}: the graders give {given} (total {sum(shares):g}), course.yml gives {part.points:g}"
        )
    return shares


@dataclass(frozen=True)
class _ModuleLayout:
    """One solution module cut at its top-level statements."""

    docstring: str
    imports: list[ast.Import | ast.ImportFrom]
    statements: list[str]  # other module-level statements, verbatim
    definitions: dict[str, str]  # top-level def/class name -> its source, decorators to the last line


def _cut_module(source: str, *, filename: str) -> _ModuleLayout:
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines()
    body = tree.body
    docstring = ast.get_docstring(tree) or ""
    imports: list[ast.Import | ast.ImportFrom] = []
    statements: list[str] = []
    definitions: dict[str, str] = {}
    for index, node in enumerate(body):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        # A fence that closes a block follows the block's last statement, after the node's own end: a
        # definition owns every line up to the next top-level statement.
        last = (body[index + 1].lineno - 1) if index + 1 < len(body) else len(lines)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            definitions[node.name] = "\n".join(lines[first - 1 : last]).rstrip()
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif index == 0 and docstring:
            continue
        elif _is_backend_choice(node):
            # Scripts draw off-screen; a notebook shows its figures inline, so the backend stays the kernel's.
            continue
        else:
            statements.append("\n".join(lines[node.lineno - 1 : node.end_lineno or node.lineno]))
    return _ModuleLayout(docstring=docstring, imports=imports, statements=statements, definitions=definitions)


def _is_backend_choice(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "use"
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == "matplotlib"
    )


def _merged_imports(layouts: list[_ModuleLayout]) -> str:
    plain: set[str] = set()
    from_imports: dict[str, list[str]] = {}
    for layout in layouts:
        for node in layout.imports:
            if isinstance(node, ast.Import):
                plain.update(ast.unparse(ast.Import(names=[alias])) for alias in node.names)
            else:
                module = "." * node.level + (node.module or "")
                names = from_imports.setdefault(module, [])
                for alias in node.names:
                    text = alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"
                    if text not in names:
                        names.append(text)
    lines = sorted(plain, key=lambda line: line.split()[1])
    lines += [f"from {module} import {', '.join(sorted(names))}" for module, names in sorted(from_imports.items())]
    return "\n".join(lines)


def data_grade_id(data: str) -> str:
    """The nbgrader grade_id of a data file's cell: ``data_`` and the file's stem (data/points.csv: ``data_points``)."""
    return "data_" + re.sub(r"[^A-Za-z0-9_]", "_", PurePosixPath(data).stem)


def _data_cell_source(path: Path, *, shown: str) -> str:
    """A .csv file as code: one float32 tensor of shape [N, 1] per column, named by the column's header."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise NotebookBuildError(f"{shown}: empty, so it has no columns for the notebook")
    header, *values = rows
    for name in header:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise NotebookBuildError(f"{shown}: the column {name!r} cannot name a tensor in the notebook")
    columns: list[list[str]] = [[] for _ in header]
    for number, row in enumerate(values, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise NotebookBuildError(f"{shown}, line {number}: {len(row)} values for {len(header)} columns")
        for column, cell in zip(columns, row, strict=True):
            try:
                column.append(str(float(cell)))
            except ValueError:
                raise NotebookBuildError(f"{shown}, line {number}: {cell!r} is not a number") from None
    lines = [
        "import torch",
        "",
        f"# {shown}, {len(columns[0]) if columns else 0} rows: one float32 tensor of shape [N, 1] per column, the",
        "# batch layout nn.Linear expects.",
    ]
    lines += [
        f"{name} = torch.tensor([{', '.join(column)}]).unsqueeze(1)"
        for name, column in zip(header, columns, strict=True)
    ]
    return "\n".join(lines)


def _data_cells(course: Course, *, course_dir: Path) -> list[NotebookNode]:
    """A locked cell per .csv file in course.yml's data; other data files ship with the release's scripts only."""
    cells: list[NotebookNode] = []
    for data in course.data:
        if PurePosixPath(data).suffix.lower() != ".csv":
            continue
        grade_id = data_grade_id(data)
        if any(cell.id == grade_id for cell in cells):
            raise NotebookBuildError(f"{data}: another data file's cell is already {grade_id}; rename one of them")
        source = _data_cell_source(course_dir / data, shown=data)
        cells.append(_code_cell(grade_id, source, _nbgrader(grade_id, solution=False, grade=False, locked=True)))
    return cells


def _fence_problem(lines: list[str]) -> str | None:
    """Why a checks file's hidden-test fences are malformed (None when each BEGIN has its END)."""
    open_at: int | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if "HIDDEN TESTS" not in text:
            continue
        if text == BEGIN_HIDDEN_TESTS and open_at is None:
            open_at = number
        elif text == END_HIDDEN_TESTS and open_at is not None:
            open_at = None
        elif text in (BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS):
            return f"line {number}: {text} out of turn"
        else:
            return f"line {number}: a fence must be a line of its own, exactly {BEGIN_HIDDEN_TESTS!r} or {END_HIDDEN_TESTS!r}"
    return None if open_at is None else f"line {open_at}: {BEGIN_HIDDEN_TESTS} is never closed"


@dataclass
class _ChecksReader:
    """Reads the course's notebook checks, laying a shared file's code in place of each import of it."""

    folder: Path
    shown_folder: str  # as course.yml names it, for messages
    student_modules: frozenset[str]  # the parts' modules, which the notebook's own cells define

    def cell_code(self, exercise: Exercise) -> str:
        """The code of an exercise's test cell: its checks file, with the shared files it imports laid in."""
        path = self.folder / f"{exercise.name}.py"
        if not path.is_file():
            raise NotebookBuildError(
                f"exercise {exercise.id} ({exercise.name}) has no notebook checks: write "
                f"{self.shown_folder}/{exercise.name}.py"
            )
        return "\n".join(self._code(path, including=())).strip("\n")

    def _code(self, path: Path, *, including: tuple[Path, ...]) -> list[str]:
        shown = f"{self.shown_folder}/{path.name}"
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=shown)
        except SyntaxError as error:
            raise NotebookBuildError(f"{shown}, line {error.lineno}: not valid Python: {error.msg}") from None
        lines = source.splitlines()
        problem = _fence_problem(lines)
        if problem is not None:
            raise NotebookBuildError(f"{shown}, {problem}")
        # Statements replaced in the cell, by their first line: (their last line, the lines that stand instead).
        replaced: dict[int, tuple[int, list[str]]] = {}
        for index, node in enumerate(tree.body):
            first, last = node.lineno, node.end_lineno or node.lineno
            if index == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
                replaced[first] = (last, [])  # it describes the file, not the cell
            elif isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    raise NotebookBuildError(f"{shown}, line {first}: a test cell runs in a function: no __future__")
                shared = self._shared(node.module) if node.level == 0 else None
                if node.level == 0 and node.module in self.student_modules:
                    replaced[first] = (last, [])  # the notebook's own cells define these names
                elif shared is not None:
                    if shared in (*including, path):
                        chain = " -> ".join(file.name for file in (*including, path, shared))
                        raise NotebookBuildError(
                            f"{shown}, line {first}: the shared checks import each other ({chain})"
                        )
                    replaced[first] = (last, self._code(shared, including=(*including, path)))
        code: list[str] = []
        number = 1
        while number <= len(lines):
            if number in replaced:
                last, instead = replaced[number]
                code += instead
                number = last + 1
            else:
                code.append(lines[number - 1])
                number += 1
        while code and not code[0].strip():
            code.pop(0)
        return code

    def _shared(self, module: str | None) -> Path | None:
        """The file of this folder that `module` names, if any."""
        if module is None or "." in module:
            return None
        path = self.folder / f"{module}.py"
        return path if path.is_file() else None


def _without_hidden_tests(source: str) -> str:
    kept: list[str] = []
    hidden = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN_TESTS in line:
            hidden = True
        elif END_HIDDEN_TESTS in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta: dict[str, object] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": NBGRADER_SCHEMA_VERSION,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _code_cell(cell_id: str, source: str, metadata: dict | None = None) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source=source, metadata=metadata or {})
    cell.id = cell_id  # stable ids keep the generated notebook byte-for-byte reproducible
    return cell


def _markdown_cell(cell_id: str, source: str) -> NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source=source)
    cell.id = cell_id
    return cell


def _format_points(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


def _introduction(course: Course) -> str:
    assignment = course.assignment
    book = course.book
    listing = "\n".join(
        f"- Exercise {exercise.id}: {exercise.title} (`{exercise.name}`)"
        for part in assignment.parts
        for exercise in part.exercises
    )
    first = "set-up and data cells" if any(data.lower().endswith(".csv") for data in course.data) else "set-up cell"
    return (
        f"# {assignment.title}\n\n"
        f"*{book.title}* ({book.authors}), chapter {book.chapter}: {book.chapter_title}.\n\n"
        f"Run the {first} first. Then, for every exercise, replace the "
        "`raise NotImplementedError(...)` in its cell with your code and run the test cell below it: a "
        "test cell that finishes without an error has found nothing wrong, but the graders run more "
        "checks than you see. Keep the names and signatures as given, and do not edit or delete the "
        f"read-only cells. The assignment is worth {assignment.points:g} points.\n\n{listing}"
    )


def _grade_cell_source(exercise: Exercise, points: float, checks: str) -> str:
    function = f"check_exercise_{exercise.id.replace('.', '_')}"
    return (
        f"# Checks for Exercise {exercise.id} ({exercise.name}), {_format_points(points)}. They run inside a function\n"
        "# so that their variables stay out of your notebook. Warnings and stderr are silenced because nbgrader\n"
        "# gives a test cell that writes to stderr no points; a check that fails still raises.\n"
        f"def {function}():\n"
        "    import contextlib\n"
        "    import io\n"
        "    import warnings\n\n"
        "    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):\n"
        '        warnings.simplefilter("ignore")\n'
        f"{textwrap.indent(checks, ' ' * 8)}\n\n\n"
        f"{function}()"
    )


def build_notebook(*, course_dir: Path, with_solutions: bool) -> NotebookNode:
    """The assignment's notebook, built from ``course_dir``'s course.yml, solutions/ and data/.

    With `with_solutions`, it is nbgrader's source notebook: solution cells keep their
    ``### BEGIN SOLUTION`` / ``### END SOLUTION`` fences and test cells their hidden tests. Without, it is
    what a student receives: each fenced block replaced by the stubs' ``raise NotImplementedError("Exercise
    1.2: implement square (see the docstring)")`` and the hidden tests removed (nbgrader's autograde
    restores them from its gradebook). Raises `NotebookBuildError` when an exercise has no top-level
    definition in its solution file, no checks file or a malformed one, or a data file cannot be a cell.
    """
    course = load_course(course_dir / "course.yml")
    assignment = course.assignment
    if course.chapter.notebook_checks is None:
        raise NotebookBuildError("course.yml names no chapter.notebook_checks: the folder of the test cells' checks")
    checks = _ChecksReader(
        folder=course_dir / course.chapter.notebook_checks,
        shown_folder=course.chapter.notebook_checks,
        student_modules=frozenset(part.module for part in assignment.parts),
    )
    solution_layouts: list[_ModuleLayout] = []
    shown_layouts: list[_ModuleLayout] = []
    for part in assignment.parts:
        source = (course_dir / "solutions" / part.file).read_text(encoding="utf-8")
        solution_layout = _cut_module(source, filename=part.file)
        solution_layouts.append(solution_layout)
        shown = source if with_solutions else stub_source(source, course=course, filename=part.file)
        shown_layouts.append(solution_layout if with_solutions else _cut_module(shown, filename=part.file))

    other_statements = [statement for layout in solution_layouts for statement in layout.statements]
    setup = "\n\n".join([_merged_imports(solution_layouts), *other_statements])
    cells: list[NotebookNode] = [
        _markdown_cell("introduction", _introduction(course)),
        _code_cell(SETUP_GRADE_ID, setup, _nbgrader(SETUP_GRADE_ID, solution=False, grade=False, locked=True)),
        *_data_cells(course, course_dir=course_dir),
    ]
    for number, (part, layout) in enumerate(zip(assignment.parts, shown_layouts, strict=True), start=1):
        cells.append(
            _markdown_cell(
                f"part-{part.id}",
                f"# Part {number}: {part.title} ({_format_points(part.points)})\n\n"
                f"In a script, this part is `{part.file}`.\n\n{layout.docstring}".rstrip(),
            )
        )
        exercise_names = {exercise.name for exercise in part.exercises}
        for name, definition in layout.definitions.items():
            if name not in exercise_names:
                given_id = f"given_{part.id}_{name}"
                meta = _nbgrader(given_id, solution=False, grade=False, locked=True)
                cells.append(_code_cell(given_id, definition, meta))
        for exercise, points in zip(part.exercises, exercise_points(part, course_dir=course_dir), strict=True):
            if exercise.name not in layout.definitions:
                raise NotebookBuildError(
                    f"solutions/{part.file}: exercise {exercise.id} ({exercise.name}) has no top-level "
                    f"def or class {exercise.name}"
                )
            heading_id = f"exercise-{exercise.id.replace('.', '-')}"
            cells.append(
                _markdown_cell(
                    heading_id,
                    f"## Exercise {exercise.id} — {exercise.title}\n\n"
                    f"{_format_points(points).capitalize()}. Implement `{exercise.name}` in the cell below, then "
                    "run the test cell after it.",
                )
            )
            solution_id = solution_grade_id(exercise)
            meta = _nbgrader(solution_id, solution=True, grade=False, locked=False)
            cells.append(_code_cell(solution_id, layout.definitions[exercise.name], meta))
            test_id = grade_cell_id(exercise)
            test_source = _grade_cell_source(exercise, points, checks.cell_code(exercise))
            if not with_solutions:
                test_source = _without_hidden_tests(test_source)
            meta = _nbgrader(test_id, solution=False, grade=True, locked=True, points=points)
            cells.append(_code_cell(test_id, test_source, meta))

    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    nbformat.validate(notebook)
    return notebook


def notebook_text(notebook: NotebookNode) -> str:
    """The notebook as .ipynb text, byte-for-byte the same for the same notebook."""
    return nbformat.writes(notebook) + "\n"


def fence_lines_removed(source: str) -> str:
    """A source notebook's cell without its solution fence lines: the code a finished student cell holds."""
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN_FENCE, END_FENCE))


def filled_notebook(release: NotebookNode, *, course_dir: Path) -> NotebookNode:
    """A copy of nbgrader's release notebook with every solution cell filled in from the reference."""
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in build_notebook(course_dir=course_dir, with_solutions=True).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    notebook = nbformat.from_dict(nbformat.reads(nbformat.writes(release), as_version=4))
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = fence_lines_removed(solutions[meta["grade_id"]])
    return notebook
