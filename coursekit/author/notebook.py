"""The assignment as one nbgrader notebook, built with nbformat from solutions/ (the single source).

Layout, top to bottom: the assignment's title and instructions; a locked set-up cell (the solution
modules' imports, merged); a locked data cell (data/temperature.csv as tensors); then per part a heading
with the module's docstring and, per exercise, a heading ``## Exercise 1.2 — sigmoid, stable for any x``,
the exercise's code as an nbgrader solution cell (``ex1_2_sigmoid``, fences kept) and a locked,
autograded test cell (``test_1_2_sigmoid``) whose hidden checks sit inside ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``. The test cells' points per part add up to the part's points in course.yml.

Two of nbgrader's traps shape the test cells. A test cell that writes anything to stderr scores zero,
so every test cell runs its checks with warnings and stderr silenced (a failed check still raises).
nbgrader shows hidden tests verbatim in its feedback, so the checks compare with torch's own
functions and test properties; they never spell out a reference implementation.
"""

from __future__ import annotations

import ast
import csv
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from coursekit.author.stubs import BEGIN_FENCE, END_FENCE, stub_source
from coursekit.config import Course, Exercise, Part, load_course
from coursekit.errors import CoursekitError

BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
NBGRADER_SCHEMA_VERSION = 3
SETUP_GRADE_ID = "setup_imports"
DATA_GRADE_ID = "data_temperature"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookBuildError(CoursekitError, ValueError):
    """The solutions cannot be laid out as a notebook (an exercise without code or without checks)."""


def notebook_name(course: Course) -> str:
    """The notebook's name (without .ipynb), which is also nbgrader's notebook id: the assignment id."""
    return course.assignment.id


def solution_grade_id(exercise: Exercise) -> str:
    """The nbgrader grade_id of an exercise's solution cell, e.g. ``ex1_2_sigmoid``."""
    return f"ex{exercise.id.replace('.', '_')}_{exercise.name}"


def grade_cell_id(exercise: Exercise) -> str:
    """The nbgrader grade_id of an exercise's autograded test cell (a grade cell), e.g. ``test_1_2_sigmoid``."""
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


def _data_cell_source(csv_path: Path) -> str:
    with csv_path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    celsius = ", ".join(str(float(row["celsius"])) for row in rows)
    unknown = ", ".join(str(float(row["unknown_units"])) for row in rows)
    return (
        f"# The book's {len(rows)} thermometer measurements (data/temperature.csv), each a float32 tensor of\n"
        "# shape [N, 1], the batch layout nn.Linear expects: t_c in Celsius, t_u in the unknown units.\n"
        f"t_c = torch.tensor([{celsius}]).unsqueeze(1)\n"
        f"t_u = torch.tensor([{unknown}]).unsqueeze(1)"
    )


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
    return (
        f"# {assignment.title}\n\n"
        f"*{book.title}* ({book.authors}), chapter {book.chapter}: {book.chapter_title}.\n\n"
        "Run the set-up and data cells first. Then, for every exercise, replace the "
        "`raise NotImplementedError(...)` in its cell with your code and run the test cell below it: a "
        "test cell that finishes without an error has found nothing wrong, but the graders run more "
        "checks than you see. Keep the names and signatures as given, and do not edit or delete the "
        f"read-only cells. The assignment is worth {assignment.points:g} points.\n\n{listing}"
    )


def _test_cell_source(exercise: Exercise, points: float) -> str:
    visible, hidden = _checks_for(exercise)
    function = f"check_exercise_{exercise.id.replace('.', '_')}"
    return (
        f"# Checks for Exercise {exercise.id} ({exercise.name}), {_format_points(points)}. They run inside a function\n"
        "# so that their variables stay out of your notebook. Warnings and stderr are silenced because nbgrader\n"
        "# gives a test cell that writes to stderr no points; a check that fails still raises.\n"
        f"def {function}():\n"
        "    import contextlib\n"
        "    import io\n"
        "    import math\n"
        "    import warnings\n\n"
        "    import torch\n"
        "    import torch.nn.functional as F\n\n"
        "    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):\n"
        '        warnings.simplefilter("ignore")\n'
        f"{textwrap.indent(visible.strip(), ' ' * 8)}\n"
        f"        {BEGIN_HIDDEN_TESTS}\n"
        f"{textwrap.indent(hidden.strip(), ' ' * 8)}\n"
        f"        {END_HIDDEN_TESTS}\n\n\n"
        f"{function}()"
    )


def build_notebook(*, course_dir: Path, with_solutions: bool) -> NotebookNode:
    """The assignment's notebook, built from ``course_dir``'s course.yml, solutions/ and data/.

    With `with_solutions`, it is nbgrader's source notebook: solution cells keep their
    ``### BEGIN SOLUTION`` / ``### END SOLUTION`` fences and test cells their hidden tests. Without, it is
    what a student receives: each fenced block replaced by the stubs' ``raise NotImplementedError("Exercise
    1.2: implement sigmoid (see the docstring)")`` and the hidden tests removed (nbgrader's autograde
    restores them from its gradebook). Raises `NotebookBuildError` when an exercise has no top-level
    definition in its solution file or no checks.
    """
    course = load_course(course_dir / "course.yml")
    assignment = course.assignment
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
        _code_cell(
            DATA_GRADE_ID,
            _data_cell_source(course_dir / "data" / "temperature.csv"),
            _nbgrader(DATA_GRADE_ID, solution=False, grade=False, locked=True),
        ),
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
            test_source = _test_cell_source(exercise, points)
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


# The checks behind each test cell, per contract name: (visible, hidden). They run inside the cell's
# silenced block of a function, with torch, F (torch.nn.functional), math and the student's definitions in scope.


def _activation_checks(name: str, reference: str, variants: list[tuple[str, list[float]]]) -> tuple[str, str]:
    """Value and gradient against torch's own function, for each (kwargs, kinks) variant.

    A kink is an input where the function has no derivative (relu at 0); torch's choice of subgradient
    there is a convention, so gradients are compared away from the kinks only.
    """
    visible = f"""
x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = {name}(x)
assert isinstance(y, torch.Tensor), f"{name} must return a tensor, got {{type(y).__name__}}"
torch.testing.assert_close(
    y, {reference}(x), msg=lambda m: f"{name}(x) differs from {reference}(x) for x = {{x.tolist()}}: {{m}}"
)
"""
    cases = ", ".join(f"({kwargs}, {kinks!r})" for kwargs, kinks in variants)
    hidden = f"""
for kwargs, kinks in [{cases}]:
    for dtype in (torch.float32, torch.float64):
        extremes = [-1e4, -100.0, -89.0, -30.0, -1e-4, 0.0, 1e-4, 30.0, 89.0, 100.0, 1e4]
        x = torch.cat([torch.linspace(-25.0, 25.0, 1001), torch.tensor(extremes + kinks)]).to(dtype)
        x.requires_grad_()
        x_reference = x.detach().clone().requires_grad_()
        where = f"{name}(x, **{{kwargs}}) in {{dtype}}"
        y = {name}(x, **kwargs)
        y_reference = {reference}(x_reference, **kwargs)
        assert isinstance(y, torch.Tensor) and y.shape == x.shape and y.dtype == dtype, (
            f"{{where}}: expected a {{dtype}} tensor of shape {{tuple(x.shape)}}, got {{getattr(y, 'dtype', type(y))}} "
            f"of shape {{tuple(getattr(y, 'shape', ()))}}"
        )
        bad = ~torch.isfinite(y.detach())
        assert not bad.any(), (
            f"{{where}} is not finite at x = {{x.detach()[bad][:5].tolist()}}: does exp see a large positive number?"
        )
        torch.testing.assert_close(y, y_reference, msg=lambda m, where=where: f"{{where}} differs from {reference}: {{m}}")
        weights = torch.linspace(0.5, 1.5, x.numel(), dtype=dtype)
        (y * weights).sum().backward()
        (y_reference * weights).sum().backward()
        assert x.grad is not None, f"{{where}}: no gradient reaches x; is the result detached (.detach(), .item(), numpy)?"
        bad = ~torch.isfinite(x.grad)
        assert not bad.any(), (
            f"the gradient of {{where}} is not finite at x = {{x.detach()[bad][:5].tolist()}}: "
            "an inf in an unused branch of torch.where still poisons the gradient"
        )
        smooth = ~torch.isin(x.detach(), torch.tensor(kinks, dtype=dtype))
        torch.testing.assert_close(
            x.grad[smooth],
            x_reference.grad[smooth],
            msg=lambda m, where=where: f"the gradient of {{where}} differs from {reference}'s: {{m}}",
        )
for shape in [(), (0,), (2, 3, 4)]:
    x = torch.linspace(-2.0, 2.0, math.prod(shape)).reshape(shape)
    y = {name}(x)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape, (
        f"{name} of a tensor of shape {{shape}} must have that shape, got {{tuple(getattr(y, 'shape', ()))}}"
    )
    torch.testing.assert_close(y, {reference}(x), msg=lambda m, shape=shape: f"{name}, shape {{shape}}: {{m}}")
"""
    return visible, hidden


_TEMPERATURE_NET = (
    """
model = TemperatureNet()
assert isinstance(model, torch.nn.Module), "TemperatureNet must subclass nn.Module"
y = model(torch.linspace(-1.0, 1.0, 5).unsqueeze(1))
assert isinstance(y, torch.Tensor) and y.shape == (5, 1), (
    f"TemperatureNet()(x) for x of shape (5, 1) must have shape (5, 1), got {tuple(getattr(y, 'shape', ()))}"
)
""",
    """
for n_hidden in (1, 13, 32):
    model = TemperatureNet(n_hidden=n_hidden)
    children = dict(model.named_children())
    assert sorted(children) == ["hidden_activation", "hidden_linear", "output_linear"], (
        f"TemperatureNet must register exactly hidden_linear, hidden_activation and output_linear, got {sorted(children)}"
    )
    hidden_linear, output_linear = model.hidden_linear, model.output_linear
    assert isinstance(hidden_linear, torch.nn.Linear) and (hidden_linear.in_features, hidden_linear.out_features) == (
        1,
        n_hidden,
    ), f"hidden_linear must be nn.Linear(1, {n_hidden}) for n_hidden={n_hidden}, got {hidden_linear}"
    assert isinstance(output_linear, torch.nn.Linear) and (output_linear.in_features, output_linear.out_features) == (
        n_hidden,
        1,
    ), f"output_linear must be nn.Linear({n_hidden}, 1) for n_hidden={n_hidden}, got {output_linear}"
    assert isinstance(model.hidden_activation, torch.nn.Module), "hidden_activation must be an nn.Module, e.g. nn.Tanh()"
    z = torch.linspace(-3.0, 3.0, 13).unsqueeze(1)
    torch.testing.assert_close(
        model.hidden_activation(z), torch.tanh(z), msg=lambda m: f"hidden_activation must compute tanh: {m}"
    )
    x = torch.linspace(-2.0, 2.0, 9).unsqueeze(1)
    calls = []
    handle = model.register_forward_hook(lambda module, inputs, output: calls.append(1))
    y = model(x)
    handle.remove()
    assert calls, "model(x) did not run nn.Module's hooks: do not override __call__, define forward"
    expected = F.linear(
        torch.tanh(F.linear(x, hidden_linear.weight, hidden_linear.bias)), output_linear.weight, output_linear.bias
    )
    torch.testing.assert_close(
        y, expected, msg=lambda m: f"model(x) is not output_linear(tanh(hidden_linear(x))) for n_hidden={n_hidden}: {m}"
    )
    y.sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing}: is part of the forward pass detached?"
""",
)

_COUNT_PARAMETERS = (
    """
n = count_parameters(torch.nn.Linear(3, 2))
assert n == 3 * 2 + 2, f"nn.Linear(3, 2) has 3 * 2 weights and 2 biases, count_parameters says {n}"
""",
    """
n = count_parameters(torch.nn.Linear(5, 1))
assert type(n) is int, f"count_parameters must return a Python int, got {type(n).__name__}"
layers = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
n = count_parameters(layers)
assert n == 4 * 3 + 3 + 3 * 2 + 2, f"Linear(4, 3) -> Tanh -> Linear(3, 2) has {4 * 3 + 3 + 3 * 2 + 2}, got {n}"
layers[0].weight.requires_grad_(False)
n = count_parameters(layers)
assert n == 3 + 3 * 2 + 2, f"a frozen weight (requires_grad=False) is not trainable: expected {3 + 3 * 2 + 2}, got {n}"
shared = torch.nn.Linear(2, 2)
n = count_parameters(torch.nn.Sequential(shared, shared))
assert n == 2 * 2 + 2, f"a layer used twice holds its parameters once: expected {2 * 2 + 2}, got {n}"
n = count_parameters(torch.nn.Tanh())
assert n == 0, f"a module without parameters has 0, got {n}"
""",
)

_SPLIT_INDICES = (
    """
train, val = split_indices(11)
assert isinstance(train, torch.Tensor) and isinstance(val, torch.Tensor), "split_indices returns two tensors"
assert train.shape == (9,) and val.shape == (2,), (
    f"11 samples with val_fraction=0.2 give 9 training and int(0.2 * 11) = 2 validation indices, "
    f"got {tuple(train.shape)} and {tuple(val.shape)}"
)
assert sorted(torch.cat([train, val]).tolist()) == list(range(11)), "every index 0..10 must appear exactly once"
""",
    """
for n_samples, val_fraction in [(11, 0.2), (10, 0.5), (7, 0.0), (1, 0.2), (100, 0.3)]:
    train, val = split_indices(n_samples, val_fraction=val_fraction)
    expected_val = int(n_samples * val_fraction)
    where = f"split_indices({n_samples}, val_fraction={val_fraction})"
    assert val.shape == (expected_val,) and train.shape == (n_samples - expected_val,), (
        f"{where}: expected {n_samples - expected_val} training and {expected_val} validation indices, "
        f"got {tuple(train.shape)} and {tuple(val.shape)}"
    )
    assert train.dtype == torch.int64 and val.dtype == torch.int64, (
        f"{where}: indices must be int64, got {train.dtype} and {val.dtype}"
    )
    assert sorted(torch.cat([train, val]).tolist()) == list(range(n_samples)), (
        f"{where}: every index must appear exactly once, in one of the two"
    )
for seed in (0, 1, 2):
    train, val = split_indices(20, val_fraction=0.25, generator=torch.Generator().manual_seed(seed))
    order = torch.randperm(20, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(torch.cat([train, val]), order), (
        "with a generator, the split must come from one torch.randperm(n_samples, generator=generator): "
        "training indices first, the last n_val as validation"
    )
""",
)

_TRAINING_DATA = """
t_u_all = torch.linspace(2.0, 9.0, 12).unsqueeze(1)
t_c_all = 5.0 * t_u_all - 10.0 + 0.5 * torch.sin(7.0 * t_u_all)
val_rows = torch.tensor([1, 4, 7, 10])
train_rows = torch.tensor([0, 2, 3, 5, 6, 8, 9, 11])
t_u_train, t_u_val = t_u_all[train_rows], t_u_all[val_rows]
t_c_train, t_c_val = t_c_all[train_rows], t_c_all[val_rows]
"""

_TRAINING_LOOP = (
    _TRAINING_DATA
    + """
torch.manual_seed(0)
model = torch.nn.Linear(1, 1)
history = training_loop(
    n_epochs=50,
    optimizer=torch.optim.SGD(model.parameters(), lr=1e-2),
    model=model,
    loss_fn=torch.nn.MSELoss(),
    t_u_train=t_u_train,
    t_u_val=t_u_val,
    t_c_train=t_c_train,
    t_c_val=t_c_val,
)
assert isinstance(history, dict) and sorted(history) == ["train", "val"], (
    f'training_loop must return {{"train": [...], "val": [...]}}, got {type(history).__name__}'
)
assert len(history["train"]) == 50 and len(history["val"]) == 50, (
    f"50 epochs give 50 losses in each list, got {len(history['train'])} and {len(history['val'])}"
)
assert all(type(v) is float for v in history["train"] + history["val"]), (
    "the history must hold Python floats: use loss.item(), a list of tensors keeps every graph alive"
)
assert history["train"][-1] < history["train"][0], "the training loss did not fall over 50 epochs of SGD"
""",
    """
class RecordingSGD(torch.optim.SGD):
    \"\"\"SGD that records, before each step, the parameters and whether .grad is this epoch's training gradient.\"\"\"

    def __init__(self, model, lr):
        super().__init__(model.parameters(), lr=lr)
        self.model = model
        self.parameters_before = []
        self.fresh_gradients = []

    def step(self, closure=None):
        parameters = list(self.model.parameters())
        with torch.enable_grad():
            loss = F.mse_loss(self.model(t_u_train), t_c_train)
            expected = torch.autograd.grad(loss, parameters)
        self.fresh_gradients.append(
            all(p.grad is not None and torch.allclose(p.grad, g, rtol=1e-4, atol=1e-6) for p, g in zip(parameters, expected))
        )
        self.parameters_before.append({name: p.detach().clone() for name, p in self.model.named_parameters()})
        return super().step(closure)


n_epochs = 100
torch.manual_seed(1)
model = torch.nn.Linear(1, 1)
optimizer = RecordingSGD(model, lr=1e-2)
history = training_loop(
    n_epochs=n_epochs,
    optimizer=optimizer,
    model=model,
    loss_fn=torch.nn.MSELoss(),
    t_u_train=t_u_train,
    t_u_val=t_u_val,
    t_c_train=t_c_train,
    t_c_val=t_c_val,
)
steps = len(optimizer.parameters_before)
assert steps == n_epochs, f"optimizer.step() ran {steps} times in {n_epochs} epochs: step once per epoch"
stale = [epoch for epoch, fresh in enumerate(optimizer.fresh_gradients, start=1) if not fresh]
assert not stale, (
    f"at epoch {stale[0]}, .grad was not the gradient of that epoch's training loss: did you forget "
    "optimizer.zero_grad() (gradients then add up epoch after epoch), or let the validation loss take part "
    "in backward() (compute it under torch.no_grad())?"
)
final = {name: p.detach().clone() for name, p in model.named_parameters()}
after = optimizer.parameters_before[1:] + [final]


def loss_at(parameters, t_u, t_c):
    with torch.no_grad():
        return F.mse_loss(torch.func.functional_call(model, parameters, (t_u,)), t_c).item()


for epoch, (before, stepped) in enumerate(zip(optimizer.parameters_before, after)):
    expected_train = loss_at(before, t_u_train, t_c_train)
    assert math.isclose(history["train"][epoch], expected_train, rel_tol=1e-5, abs_tol=1e-6), (
        f"history['train'][{epoch}] = {history['train'][epoch]} is not the training loss of epoch {epoch + 1} "
        f"({expected_train}, from the model before that epoch's step)"
    )
    candidates = (loss_at(before, t_u_val, t_c_val), loss_at(stepped, t_u_val, t_c_val))
    assert any(math.isclose(history["val"][epoch], v, rel_tol=1e-5, abs_tol=1e-6) for v in candidates), (
        f"history['val'][{epoch}] = {history['val'][epoch]} is not the validation loss of epoch {epoch + 1}: "
        "is it computed on t_u_val and t_c_val with loss_fn?"
    )
""",
)

_PLOT_FIT = (
    """
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

model = torch.nn.Linear(1, 1)
figure = plot_fit(model, torch.tensor([[35.7], [55.9], [81.9]]), torch.tensor([[0.5], [14.0], [28.0]]))
plt.close("all")
assert isinstance(figure, Figure), f"plot_fit must return a matplotlib Figure, got {type(figure).__name__}"
""",
    """
import numpy as np

model = torch.nn.Linear(1, 1)
with torch.no_grad():
    model.weight.fill_(5.0)
    model.bias.fill_(-17.0)
t_u_points = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3])
t_c_points = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0])
for scale, t_u_given, t_c_given in [(0.1, t_u_points.unsqueeze(1), t_c_points.unsqueeze(1)), (0.05, t_u_points, t_c_points)]:
    figure = plot_fit(model, t_u_given, t_c_given, scale=scale)
    axes = list(figure.axes)
    plt.close("all")
    where = f"plot_fit(model, t_u of shape {tuple(t_u_given.shape)}, ..., scale={scale})"
    assert len(axes) == 1, f"{where}: expected one set of axes, got {len(axes)}"
    ax = axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Fahrenheit", "Celsius"), (
        f"{where}: label the axes 'Fahrenheit' (x) and 'Celsius' (y), got {ax.get_xlabel()!r} and {ax.get_ylabel()!r}"
    )
    drawn = [(np.ravel(line.get_xdata()).astype(float), np.ravel(line.get_ydata()).astype(float)) for line in ax.get_lines()]
    drawn += [(np.asarray(c.get_offsets())[:, 0], np.asarray(c.get_offsets())[:, 1]) for c in ax.collections]

    def shows(x, y):
        return any(xs.shape == x.shape and np.allclose(xs, x) and np.allclose(ys, y, atol=1e-4) for xs, ys in drawn)

    assert shows(t_u_points.numpy(), t_c_points.numpy()), f"{where}: the measurements (t_u, t_c) are not plotted"
    inputs = torch.arange(20.0, 90.0)
    with torch.no_grad():
        curve = model(scale * inputs.unsqueeze(1)).flatten()
    assert shows(inputs.numpy(), curve.numpy()), (
        f"{where}: no line shows the model's prediction at 20, 21, ..., 89 (fed to the model as scale * input)"
    )
""",
)

_CHECKS: dict[str, tuple[str, str]] = {
    "tanh": _activation_checks("tanh", "torch.tanh", [("{}", [])]),
    "sigmoid": _activation_checks("sigmoid", "torch.sigmoid", [("{}", [])]),
    "relu": _activation_checks("relu", "F.relu", [("{}", [0.0])]),
    "leaky_relu": _activation_checks("leaky_relu", "F.leaky_relu", [("{}", [0.0]), ('{"negative_slope": 0.2}', [0.0])]),
    "hardtanh": _activation_checks(
        "hardtanh", "F.hardtanh", [("{}", [-1.0, 1.0]), ('{"min_val": -2.0, "max_val": 0.5}', [-2.0, 0.5])]
    ),
    "softplus": _activation_checks(
        "softplus", "F.softplus", [("{}", [20.0]), ('{"beta": 2.0, "threshold": 5.0}', [2.5])]
    ),
    "TemperatureNet": _TEMPERATURE_NET,
    "count_parameters": _COUNT_PARAMETERS,
    "split_indices": _SPLIT_INDICES,
    "training_loop": _TRAINING_LOOP,
    "plot_fit": _PLOT_FIT,
}


def _checks_for(exercise: Exercise) -> tuple[str, str]:
    try:
        return _CHECKS[exercise.name]
    except KeyError:
        raise NotebookBuildError(
            f"exercise {exercise.id} ({exercise.name}) has no notebook checks; known: {', '.join(_CHECKS)}"
        ) from None


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
