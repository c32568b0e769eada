"""coursekit.author.stubs: student stubs generated from the fenced reference solutions."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import torch
from repo_paths import REPO

from coursekit.author.stubs import FenceError, StaleExercisesError, build_exercises, stub_source
from coursekit.config import Course, load_course, parse_course

PART_FILES = ("activations.py", "model.py", "training.py")


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(REPO / "course.yml")


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A course folder with the repository's course.yml, solutions/ and data/, and no exercises/ yet."""
    shutil.copy(REPO / "course.yml", tmp_path / "course.yml")
    for folder in ("solutions", "data"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def functions_by_name(source: str) -> dict[str, ast.FunctionDef]:
    """Every function and method, keyed 'name' or 'Class.name'."""
    found: dict[str, ast.FunctionDef] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for inner in node.body:
                if isinstance(inner, ast.FunctionDef):
                    found[f"{node.name}.{inner.name}"] = inner
    return found


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"stub_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raise_message(function: ast.FunctionDef) -> str | None:
    """The NotImplementedError message a stub's body raises, or None when its last statement raises nothing."""
    last = function.body[-1]
    if isinstance(last, ast.Raise) and isinstance(last.exc, ast.Call) and last.exc.args:
        assert isinstance(last.exc.func, ast.Name) and last.exc.func.id == "NotImplementedError"
        argument = last.exc.args[0]
        assert isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        return argument.value
    return None


@pytest.mark.parametrize("filename", PART_FILES)
def test_stub_keeps_signatures_and_docstrings_and_drops_the_solution(course: Course, filename: str) -> None:
    solution = (REPO / "solutions" / filename).read_text(encoding="utf-8")
    stub = stub_source(solution, course=course, filename=filename)
    assert "BEGIN SOLUTION" not in stub and "END SOLUTION" not in stub

    solution_functions = functions_by_name(solution)
    stub_functions = functions_by_name(stub)
    assert stub_functions.keys() == solution_functions.keys()
    for name, original in solution_functions.items():
        generated = stub_functions[name]
        assert ast.dump(generated.args) == ast.dump(original.args), f"{name}'s signature changed"
        assert ast.dump(generated.returns or ast.Constant(None)) == ast.dump(original.returns or ast.Constant(None))
        assert ast.get_docstring(generated) == ast.get_docstring(original), f"{name}'s docstring changed"
    assert ast.get_docstring(ast.parse(stub)) == ast.get_docstring(ast.parse(solution))

    # Every import of the solution stays, including those only the solution's body used.
    imports = [line for line in solution.splitlines() if line.startswith(("import ", "from "))]
    for line in imports:
        assert line in stub.splitlines(), f"{filename}: {line!r} was dropped"


def test_each_exercise_raises_its_id_and_name_from_course_yml(course: Course) -> None:
    expected: dict[str, str] = {}
    for part in course.assignment.parts:
        for exercise in part.exercises:
            if exercise.name == "TemperatureNet":
                expected["TemperatureNet.__init__"] = (
                    "Exercise 2.1: implement TemperatureNet.__init__ (see the class docstring)"
                )
                expected["TemperatureNet.forward"] = (
                    "Exercise 2.1: implement TemperatureNet.forward (see the docstring)"
                )
            else:
                expected[exercise.name] = f"Exercise {exercise.id}: implement {exercise.name} (see the docstring)"
    found: dict[str, str] = {}
    for filename in PART_FILES:
        stub = stub_source(
            (REPO / "solutions" / filename).read_text(encoding="utf-8"), course=course, filename=filename
        )
        for name, function in functions_by_name(stub).items():
            message = raise_message(function)
            if message is not None:
                found[name] = message
    assert found == expected
    assert expected["sigmoid"] == "Exercise 1.2: implement sigmoid (see the docstring)"


def test_exercise_ids_follow_course_yml(course: Course) -> None:
    text = (REPO / "course.yml").read_text(encoding="utf-8").replace('id: "1.2"', 'id: "7.9"')
    renumbered = parse_course(text)
    stub = stub_source(
        (REPO / "solutions" / "activations.py").read_text(encoding="utf-8"),
        course=renumbered,
        filename="activations.py",
    )
    assert 'raise NotImplementedError("Exercise 7.9: implement sigmoid (see the docstring)")' in stub
    assert "Exercise 1.2" not in stub


def test_stub_header_and_super_init_are_kept(course: Course) -> None:
    stub = stub_source(
        (REPO / "solutions" / "model.py").read_text(encoding="utf-8"), course=course, filename="model.py"
    )
    head = stub.splitlines()[:4]
    assert head[0].startswith("# Generated from solutions/model.py by `coursekit build-exercises`")
    assert "# ruff: noqa: F401" in "\n".join(head[:3])
    assert head[3].startswith('"""')
    init = functions_by_name(stub)["TemperatureNet.__init__"]
    assert ast.unparse(init.body[0]) == "super().__init__()"
    # The raise sits at the block's indentation, inside the method.
    assert '        raise NotImplementedError("Exercise 2.1: implement TemperatureNet.__init__' in stub


def test_generated_stubs_import_and_raise(course_copy: Path) -> None:
    build_exercises(course_dir=course_copy)
    exercises = course_copy / "exercises"
    activations = import_file(exercises / "activations.py")
    model = import_file(exercises / "model.py")
    training = import_file(exercises / "training.py")

    with pytest.raises(NotImplementedError, match=r"^Exercise 1\.2: implement sigmoid \(see the docstring\)$"):
        activations.sigmoid(torch.zeros(1))
    with pytest.raises(NotImplementedError, match=r"^Exercise 2\.1: implement TemperatureNet\.__init__"):
        model.TemperatureNet()
    with pytest.raises(NotImplementedError, match=r"^Exercise 3\.3: implement plot_fit"):
        training.plot_fit(None, torch.zeros(1), torch.zeros(1))


def test_build_writes_the_stubs_and_copies_the_given_module(course_copy: Path) -> None:
    written = build_exercises(course_dir=course_copy)
    exercises = course_copy / "exercises"
    assert sorted(path.name for path in written) == sorted([*PART_FILES, "temperature_data.py"])
    assert all(path.parent == exercises and path.is_file() for path in written)
    given = (course_copy / "data" / "temperature_data.py").read_bytes()
    assert (exercises / "temperature_data.py").read_bytes() == given
    assert build_exercises(course_dir=course_copy, check_only=True) == []


def test_check_only_writes_nothing_and_lists_stale_files(course_copy: Path) -> None:
    with pytest.raises(StaleExercisesError) as missing:
        build_exercises(course_dir=course_copy, check_only=True)
    assert not (course_copy / "exercises").exists()
    assert len(missing.value.stale) == 4

    build_exercises(course_dir=course_copy)
    solution = course_copy / "solutions" / "training.py"
    solution.write_text(solution.read_text(encoding="utf-8").replace("plot of the fit", "plot of the model"))
    (course_copy / "exercises" / "model.py").write_text("# edited by hand\n")
    with pytest.raises(StaleExercisesError) as stale:
        build_exercises(course_dir=course_copy, check_only=True)
    assert sorted(path.name for path in stale.value.stale) == ["model.py", "training.py"]
    assert "model.py" in str(stale.value) and "coursekit build-exercises" in str(stale.value)
    assert (course_copy / "exercises" / "model.py").read_text() == "# edited by hand\n"


def test_repository_exercises_are_up_to_date() -> None:
    """Fails when solutions/ or course.yml changed and exercises/ was not regenerated."""
    build_exercises(course_dir=REPO, check_only=True)


def test_no_file_in_exercises_carries_a_fence() -> None:
    files = [path for path in (REPO / "exercises").rglob("*") if path.is_file()]
    assert len(files) >= 4
    for path in files:
        content = path.read_bytes()
        assert b"BEGIN SOLUTION" not in content and b"END SOLUTION" not in content, f"{path} carries a fence"


VALID = '''"""A part."""


def tanh(x):
    """Doc."""
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
'''


def fenced_error(source: str, course: Course, filename: str = "activations.py") -> str:
    with pytest.raises(FenceError) as error:
        stub_source(source, course=course, filename=filename)
    return str(error.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            '"""A part."""\n### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n',
            r"^activations\.py, line 2: solution block outside any top-level function or method",
            id="module-level",
        ),
        pytest.param(
            VALID + "\n\ndef helper(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
            r"^activations\.py, line 12: solution block inside helper, which is not one of the part's exercise names",
            id="not-a-contract-name",
        ),
        pytest.param(
            VALID.replace("    ### END SOLUTION\n", ""),
            r"^activations\.py, line 6: ### BEGIN SOLUTION is never closed",
            id="unclosed",
        ),
        pytest.param(
            VALID.replace("    return x\n", "    ### BEGIN SOLUTION\n    return x\n"),
            r"^activations\.py, line 7: nested ### BEGIN SOLUTION \(the block opened at line 6 is not closed\)",
            id="nested",
        ),
        pytest.param(
            VALID.replace("    ### BEGIN SOLUTION\n", ""),
            r"^activations\.py, line 7: ### END SOLUTION without a ### BEGIN SOLUTION",
            id="end-without-begin",
        ),
        pytest.param(
            VALID.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION (tanh)"),
            r"^activations\.py, line 6: a fence must be a line of its own",
            id="malformed-fence",
        ),
        pytest.param(
            VALID.replace("    return x\n", "    return (x\n"),
            r"^activations\.py, line \d+: not valid Python",
            id="syntax-error",
        ),
    ],
)
def test_fence_errors_name_the_file_and_line(course: Course, source: str, expected: str) -> None:
    assert re.search(expected, fenced_error(source, course))


def test_an_exercise_without_a_block_is_an_error(course: Course) -> None:
    source = VALID + '\n\ndef sigmoid(x):\n    """Doc."""\n    return x\n'
    message = fenced_error(source, course)
    assert "exercise 1.2 (sigmoid)" in message and "1.3 (relu)" in message and "1.1" not in message
    assert "would ship to students" in message


def test_a_file_outside_the_course_cannot_have_blocks(course: Course) -> None:
    message = fenced_error(VALID, course, filename="extra.py")
    assert message.startswith("extra.py, line 6:")
    assert "extra.py is not a part's file in course.yml" in message


def test_a_valid_block_becomes_one_raise_line(course: Course) -> None:
    source = VALID + "".join(
        f'\n\ndef {name}(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
        for name in ("sigmoid", "relu", "leaky_relu", "hardtanh", "softplus")
    )
    stub = stub_source(source, course=course, filename="activations.py")
    assert stub.count("raise NotImplementedError(") == 6
    assert "return x" not in stub
    assert '    raise NotImplementedError("Exercise 1.1: implement tanh (see the docstring)")\n' in stub


def test_a_given_module_with_a_block_is_an_error(course_copy: Path) -> None:
    given = course_copy / "data" / "temperature_data.py"
    given.write_text(given.read_text(encoding="utf-8") + "\n### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n")
    with pytest.raises(FenceError, match=r"^temperature_data\.py, line \d+: a module given to students as is"):
        build_exercises(course_dir=course_copy)


def test_a_missing_solution_file_is_named(course_copy: Path) -> None:
    (course_copy / "solutions" / "model.py").unlink()
    with pytest.raises(FenceError, match=r"^solutions/model\.py: cannot read: No such file"):
        build_exercises(course_dir=course_copy)


def test_a_block_in_a_class_body_is_an_error(course: Course) -> None:
    source = (REPO / "solutions" / "model.py").read_text(encoding="utf-8")
    source = source.replace(
        "    def __init__", "    ### BEGIN SOLUTION\n    scale = 1.0\n    ### END SOLUTION\n\n    def __init__"
    )
    message = fenced_error(source, course, filename="model.py")
    assert re.match(r"^model\.py, line \d+: solution block outside any top-level function or method", message)
