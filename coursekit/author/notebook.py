"""The assignment as one nbgrader notebook, built with nbformat from solutions/ (the single source).

Layout, top to bottom: the assignment's title and instructions; a locked set-up cell (the solution
modules' imports, merged); a locked data cell per .csv file in course.yml's ``data`` (each column as a
tensor); then per part a heading with the module's docstring and, per exercise, a heading
``## Exercise 1.2 — square, without a loop``, the exercise's code as an nbgrader solution cell
(``ex1_2_square``, fences kept) and a locked, autograded test cell (``test_1_2_square``). The test cells'
points per part add up to the part's points in course.yml.

An exercise's test cell holds that exercise's public tests, the ``test_<id>_...`` functions of
exercises/tests (what `pytest` runs on the scripts), with the helpers and conftest fixtures they use, so
`nbgrader validate` fails exactly where the public tests fail. Its hidden part, at the top of the cell,
returns the points the course's hidden graders give the exercise for the notebook's own file
(`coursekit.export.nbgrader.notebook_exercise_score`: the same intake and graders as `coursekit grade`, at the
graders' check weights), and nbgrader takes the number a test cell shows as its partial credit. The public tests
never run at autograde, so they neither add nor cost points.

The notebook ends with course.yml's ``chapter.notebook_finale``, ungraded: the exercises put together. Its code
runs under ``if __name__ == "__main__"`` and outside nbgrader's runs, so the notebook runs it, and neither grading
(which imports the notebook's code as modules) nor `nbgrader validate` or `autograde` does.

Two of nbgrader's traps shape the test cells. A test cell that writes anything to stderr scores zero,
so every test cell runs its checks with warnings and stderr silenced (a failed check still raises).
nbgrader shows hidden tests verbatim in its feedback: the hidden part is one call, and shows no grader.
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
    """The solutions cannot be laid out as a notebook (an exercise without code or without public tests)."""


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


@dataclass(frozen=True)
class _Statement:
    """A top-level statement of a public test file or the conftest: its source and the names it binds and uses."""

    source: str
    binds: frozenset[str]
    uses: frozenset[str]


def _names_used(node: ast.AST) -> frozenset[str]:
    """The names a statement reads; a definition's decorators (pytest's markers and fixture decorators) left out."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        parts: list[ast.AST] = [*node.body]
        if not isinstance(node, ast.ClassDef):
            parts += [node.args] + ([node.returns] if node.returns else [])
        return frozenset(name for part in parts for name in _names_used(part))
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _names_bound(node: ast.stmt) -> frozenset[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return frozenset((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return frozenset({node.name})
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return frozenset(n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name))


def _is_pytest_call(node: ast.expr, *names: str) -> bool:
    """Whether a decorator is ``pytest.<name>`` or ``pytest.<name>(...)`` (``pytest.mark.x`` for name "mark")."""
    target = node.func if isinstance(node, ast.Call) else node
    parts: list[str] = []
    while isinstance(target, ast.Attribute):
        parts.insert(0, target.attr)
        target = target.value
    return isinstance(target, ast.Name) and target.id == "pytest" and bool(parts) and parts[0] in names


@dataclass(frozen=True)
class _Fixture:
    name: str
    autouse: bool
    statement: _Statement


@dataclass
class _PublicTests:
    """The public tests of exercises/tests, laid into the notebook's test cells, one exercise per cell.

    An exercise's tests are the functions named ``test_<id>_...`` (``test_1_2_...`` for exercise 1.2). Each cell
    holds those tests with the statements they need from their file (imports, helpers, constants) and the
    conftest's fixtures they take (and its autouse ones), then calls them as pytest would: autouse fixtures
    first, then the test with its fixtures' values. Markers are left out; a parametrized test, a fixture that
    takes fixtures or yields cannot be laid out and is named.
    """

    course_dir: Path
    student_modules: frozenset[str]

    def __post_init__(self) -> None:
        self.tests_dir = self.course_dir / "exercises" / "tests"
        self.files: dict[str, tuple[list[_Statement], dict[str, tuple[ast.FunctionDef, str]]]] = {}
        for path in sorted(self.tests_dir.glob("test_*.py")):
            self.files[path.name] = self._read(path)
        self.fixtures: dict[str, _Fixture] = {}
        self.conftest: list[_Statement] = []
        conftest = self.tests_dir / "conftest.py"
        if conftest.is_file():
            self.conftest, _ = self._read(conftest, fixtures=self.fixtures)

    def _read(
        self, path: Path, fixtures: dict[str, _Fixture] | None = None
    ) -> tuple[list[_Statement], dict[str, tuple[ast.FunctionDef, str]]]:
        shown = path.relative_to(self.course_dir).as_posix()
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=shown)
        except SyntaxError as error:
            raise NotebookBuildError(f"{shown}, line {error.lineno}: not valid Python: {error.msg}") from None
        lines = source.splitlines()
        statements: list[_Statement] = []
        tests: dict[str, tuple[ast.FunctionDef, str]] = {}
        for index, node in enumerate(tree.body):
            if index == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
                continue  # the file's docstring
            if isinstance(node, ast.ImportFrom) and (node.level or node.module in self.student_modules):
                continue  # the notebook's own cells define the student's names
            body = "\n".join(lines[node.lineno - 1 : node.end_lineno or node.lineno])
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                for decorator in node.decorator_list:
                    if _is_pytest_call(decorator, "mark") and "parametrize" in ast.unparse(decorator):
                        raise NotebookBuildError(
                            f"{shown}, line {node.lineno}: a notebook cannot run a parametrized test"
                        )
                tests[node.name] = (node, body)
                continue
            decorators = [d for d in getattr(node, "decorator_list", []) if _is_pytest_call(d, "fixture")]
            if decorators and isinstance(node, ast.FunctionDef):
                if fixtures is None:
                    raise NotebookBuildError(
                        f"{shown}, line {node.lineno}: fixtures belong in exercises/tests/conftest.py"
                    )
                if node.args.args or any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
                    raise NotebookBuildError(
                        f"{shown}, line {node.lineno}: fixture {node.name} takes fixtures or yields; "
                        "a notebook runs plain fixtures only"
                    )
                autouse = any(
                    isinstance(d, ast.Call)
                    and any(k.arg == "autouse" and ast.literal_eval(k.value) for k in d.keywords)
                    for d in decorators
                )
                definition = "\n".join(lines[node.lineno - 1 : node.end_lineno or node.lineno])
                statement = _Statement(definition, frozenset({node.name}), _names_used(node))
                fixtures[node.name] = _Fixture(node.name, autouse, statement)
                continue
            if isinstance(
                node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign
            ):
                statements.append(_Statement(body, _names_bound(node), _names_used(node)))
        return statements, tests

    def tests_of(self, exercise: Exercise) -> list[tuple[str, ast.FunctionDef, str]]:
        prefix = f"test_{exercise.id.replace('.', '_')}_"
        return [
            (file, node, body)
            for file, (_, tests) in self.files.items()
            for name, (node, body) in tests.items()
            if name.startswith(prefix)
        ]

    def cell_code(self, exercise: Exercise) -> str:
        """The code of an exercise's test cell body: its public tests, what they need, and the calls."""
        tests = self.tests_of(exercise)
        if not tests:
            raise NotebookBuildError(
                f"exercise {exercise.id} ({exercise.name}) has no public tests: write a "
                f"test_{exercise.id.replace('.', '_')}_... function in exercises/tests"
            )
        wanted: set[str] = set()
        fixtures: list[_Fixture] = [fixture for fixture in self.fixtures.values() if fixture.autouse]
        for _, node, _ in tests:
            wanted |= _names_used(node)
            for argument in node.args.args:
                if argument.arg not in self.fixtures:
                    raise NotebookBuildError(
                        f"exercises/tests: {node.name} takes {argument.arg}, which is no fixture of exercises/tests/conftest.py"
                    )
                if self.fixtures[argument.arg] not in fixtures:
                    fixtures.append(self.fixtures[argument.arg])
        for fixture in fixtures:
            wanted |= fixture.statement.uses
        files = {file for file, _, _ in tests}
        pool = [*self.conftest, *(s for file in sorted(files) for s in self.files[file][0])]
        chosen: list[_Statement] = []
        changed = True
        while changed:  # the statements the tests reach, through the helpers they call
            changed = False
            for statement in pool:
                if statement not in chosen and statement.binds & wanted:
                    chosen.append(statement)
                    wanted |= statement.uses
                    changed = True
        imports = [s for s in pool if s in chosen and s.source.startswith(("import ", "from "))]
        others = [s for s in pool if s in chosen and s not in imports]
        blocks = [
            "\n".join(dict.fromkeys(s.source for s in imports)),
            *(f.statement.source for f in fixtures),
            *(s.source for s in others),
            *(body for _, _, body in tests),
        ]
        autouse = "".join(f"            {f.name}()\n" for f in fixtures if f.autouse)
        calls = "".join(
            f"    ({node.name!r}, lambda: {node.name}({', '.join(f'{a.arg}={a.arg}()' for a in node.args.args)})),\n"
            for _, node, _ in tests
        )
        runner = (
            "# Each test as pytest runs it (exercises/tests/conftest.py's fixtures first); the first failure is raised.\n"
            f"failures: list[tuple[str, Exception]] = []\nfor name, run in [\n{calls}]:\n"
            "    try:\n"
            "        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):\n"
            '            warnings.simplefilter("ignore")\n'
            f"{autouse}"
            "            run()\n"
            "    except Exception as error:\n"
            "        failures.append((name, error))\n"
            "for name, error in failures[1:]:\n"
            '    print(f"{name} fails too: {type(error).__name__}: {error}")\n'
            "if failures:\n"
            "    raise failures[0][1]"
        )
        return "\n\n\n".join(block for block in [*blocks, runner] if block.strip())


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


def _grade_cell_source(exercise: Exercise, points: float, public_tests: str, *, notebook: str) -> str:
    function = f"check_exercise_{exercise.id.replace('.', '_')}"
    return (
        f"# Exercise {exercise.id} ({exercise.name}), {_format_points(points)}: its public tests, the ones `pytest` runs on\n"
        "# the scripts, inside a function so that their names stay out of your notebook. Warnings and stderr are\n"
        "# silenced because nbgrader gives a test cell that writes to stderr no points; a test that fails still raises.\n"
        "# Passing them is a start: the graders check more.\n"
        f"def {function}():\n"
        "    import contextlib\n"
        "    import io\n"
        "    import warnings\n\n"
        f"    {BEGIN_HIDDEN_TESTS}\n"
        "    # Autograding: the result is the points the course's hidden graders give this exercise for the code in\n"
        "    # this notebook's file (coursekit, the same checks as `coursekit grade`); nbgrader counts it as the cell's\n"
        "    # partial credit. The public tests below do not run then.\n"
        "    from coursekit.export.nbgrader import notebook_exercise_score\n\n"
        "    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):\n"
        '        warnings.simplefilter("ignore")\n'
        f"        return notebook_exercise_score({exercise.id!r}, notebook={notebook!r})\n"
        f"    {END_HIDDEN_TESTS}\n"
        f"{textwrap.indent(public_tests, ' ' * 4)}\n\n\n"
        f"{function}()"
    )


def _finale_cells(course: Course, *, course_dir: Path) -> list[NotebookNode]:
    """course.yml's chapter.notebook_finale: its docstring as a heading, its code under a __main__ guard."""
    if course.chapter.notebook_finale is None:
        return []
    shown = course.chapter.notebook_finale
    source = (course_dir / shown).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=shown)
    except SyntaxError as error:
        raise NotebookBuildError(f"{shown}, line {error.lineno}: not valid Python: {error.msg}") from None
    docstring = ast.get_docstring(tree)
    if not docstring or not tree.body[1:]:
        raise NotebookBuildError(f"{shown}: the finale needs a docstring (the section's text) and code after it")
    student_modules = {part.module for part in course.assignment.parts}
    lines = source.splitlines()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in student_modules:
            for number in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[number] = "\0"  # the notebook's own cells define these names
    code = "\n".join(line for line in lines[tree.body[1].lineno - 1 :] if line != "\0").strip("\n")
    guarded = (
        "# Runs when you run the notebook. Grading skips it: coursekit imports this notebook's code as modules, and\n"
        "# nbgrader sets NBGRADER_EXECUTION while it validates or autogrades.\n"
        "import os\n\n"
        f'if __name__ == "__main__" and "NBGRADER_EXECUTION" not in os.environ:\n{textwrap.indent(code, "    ")}'
    )
    return [_markdown_cell("finale", docstring), _code_cell("finale-code", guarded)]


def build_notebook(*, course_dir: Path, with_solutions: bool) -> NotebookNode:
    """The assignment's notebook, built from ``course_dir``'s course.yml, solutions/ and data/.

    With `with_solutions`, it is nbgrader's source notebook: solution cells keep their
    ``### BEGIN SOLUTION`` / ``### END SOLUTION`` fences and test cells their hidden tests. Without, it is
    what a student receives: each fenced block replaced by the stubs' ``raise NotImplementedError("Exercise
    1.2: implement square (see the docstring)")`` and the hidden tests removed (nbgrader's autograde
    restores them from its gradebook). Raises `NotebookBuildError` when an exercise has no top-level
    definition in its solution file or no public tests, or a data file or the finale cannot be a cell.
    """
    course = load_course(course_dir / "course.yml")
    assignment = course.assignment
    public_tests = _PublicTests(
        course_dir=course_dir, student_modules=frozenset(part.module for part in assignment.parts)
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
            test_source = _grade_cell_source(
                exercise, points, public_tests.cell_code(exercise), notebook=f"{notebook_name(course)}.ipynb"
            )
            if not with_solutions:
                test_source = _without_hidden_tests(test_source)
            meta = _nbgrader(test_id, solution=False, grade=True, locked=True, points=points)
            cells.append(_code_cell(test_id, test_source, meta))

    cells += _finale_cells(course, course_dir=course_dir)
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
