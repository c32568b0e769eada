"""Student stubs generated from the reference solutions (solutions/ is the single source of truth).

Every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block in ``solutions/<part>.py`` becomes one line
at the block's indentation, ``raise NotImplementedError("Exercise 1.2: implement square (see the
docstring)")``; signatures, docstrings and imports stay. The exercise a block belongs to is the one in
course.yml whose ``name`` is the top-level function or class around the block.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from coursekit.config import Course, Exercise, load_course
from coursekit.errors import CoursekitError

BEGIN_FENCE = "### BEGIN SOLUTION"
END_FENCE = "### END SOLUTION"


class FenceError(CoursekitError, ValueError):
    """A solution file cannot be turned into a stub (missing, malformed fences); the message names the file and line."""


class StaleExercisesError(CoursekitError, RuntimeError):
    """exercises/ differs from what `build_exercises` would generate from solutions/."""

    def __init__(self, stale: list[Path]) -> None:
        names = ", ".join(str(path) for path in stale)
        super().__init__(f"exercises/ is out of date with solutions/: {names}; run `coursekit build-exercises`")
        self.stale = stale


@dataclass(frozen=True)
class _Block:
    begin: int  # 1-based line of BEGIN SOLUTION
    end: int  # 1-based line of END SOLUTION
    indent: str


def _header(filename: str) -> str:
    return (
        f"# Generated from solutions/{filename} by `coursekit build-exercises`.\n"
        "# Students: this is your file to edit. Instructors: edit solutions/ instead and regenerate.\n"
        # Imports that only the reference solution used are kept: students will need them. RUF100 keeps
        # ruff quiet about the directive in a stub where every import is still used.
        "# ruff: noqa: F401, RUF100\n"
    )


def _find_blocks(lines: list[str], filename: str) -> list[_Block]:
    blocks: list[_Block] = []
    open_at: tuple[int, str] | None = None
    for number, line in enumerate(lines, start=1):
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line:
            continue
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped == BEGIN_FENCE:
            if open_at is not None:
                raise FenceError(
                    f"{filename}, line {number}: nested {BEGIN_FENCE} (the block opened at line {open_at[0]} "
                    f"is not closed)"
                )
            open_at = (number, indent)
        elif stripped == END_FENCE:
            if open_at is None:
                raise FenceError(f"{filename}, line {number}: {END_FENCE} without a {BEGIN_FENCE} before it")
            blocks.append(_Block(begin=open_at[0], end=number, indent=open_at[1]))
            open_at = None
        else:
            # A fence written any other way would otherwise ship to students verbatim.
            raise FenceError(
                f"{filename}, line {number}: a fence must be a line of its own, exactly {BEGIN_FENCE!r} or "
                f"{END_FENCE!r}, got {stripped!r}"
            )
    if open_at is not None:
        raise FenceError(f"{filename}, line {open_at[0]}: {BEGIN_FENCE} is never closed by {END_FENCE}")
    return blocks


def _extent(body: list[ast.stmt], index: int, last_line: int) -> range:
    """Lines a statement owns: from its first decorator up to the line before the next statement.

    A block's END fence usually follows the last statement of its function, outside the node's own
    `end_lineno`, so the trailing comment lines are counted as the function's.
    """
    stop = _first_line(body[index + 1]) - 1 if index + 1 < len(body) else last_line
    return range(_first_line(body[index]), stop + 1)


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))])


def _enclosing(body: list[ast.stmt], line: int, indent: int, last_line: int) -> ast.stmt | None:
    for index, node in enumerate(body):
        if line in _extent(body, index, last_line) and node.col_offset < indent and line > node.lineno:
            return node
    return None


@dataclass(frozen=True)
class _Owner:
    """The exercise code around a block: its top-level name, the name the student reads, where the spec is."""

    top_name: str
    shown_name: str
    spec: str


def _owner(tree: ast.Module, block: _Block, last_line: int) -> _Owner | None:
    """The top-level function, or method of a top-level class, whose body holds the block; None for any other place.

    A block directly in a class body is refused too: its raise would run when the stub is imported.
    """
    indent = len(block.indent)
    top = _enclosing(tree.body, block.begin, indent, last_line)
    if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
        spec = "see the docstring" if ast.get_docstring(top) else "see the module docstring"
        return _Owner(top.name, top.name, spec)
    if isinstance(top, ast.ClassDef):
        method = _enclosing(top.body, block.begin, indent, top.end_lineno or last_line)
        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
            spec = "see the docstring" if ast.get_docstring(method) else "see the class docstring"
            return _Owner(top.name, f"{top.name}.{method.name}", spec)
    return None


def _string_literal(text: str) -> str:
    """A double-quoted Python literal, the form ruff format leaves alone."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exercises_of(course: Course, filename: str) -> dict[str, Exercise]:
    for part in course.assignment.parts:
        if part.file == filename:
            return {exercise.name: exercise for exercise in part.exercises}
    return {}


def stub_source(solution_source: str, *, course: Course, filename: str) -> str:
    """The student stub for one solution file: every fenced block replaced by a NotImplementedError.

    `filename` is the file's name in solutions/ (e.g. ``"ops.py"``); it selects the course.yml part
    whose exercises name the blocks, and appears in error messages. Raises `FenceError` for a fence outside
    any of that part's contract names, an unclosed, unopened or nested fence, a part exercise with no
    fenced block (its solution would ship to students), or a solution that is not valid Python.
    """
    try:
        tree = ast.parse(solution_source, filename=filename)
    except SyntaxError as error:
        raise FenceError(f"{filename}, line {error.lineno}: not valid Python: {error.msg}") from None
    lines = solution_source.splitlines(keepends=True)
    blocks = _find_blocks(lines, filename)
    exercises = _exercises_of(course, filename)
    last_line = len(lines)

    replacements: dict[int, _Block] = {}
    fenced_names: set[str] = set()
    for block in blocks:
        owner = _owner(tree, block, last_line)
        if owner is None or owner.top_name not in exercises:
            where = f"inside {owner.shown_name}" if owner else "outside any top-level function or method"
            contract = ", ".join(exercises) or f"none: {filename} is not a part's file in course.yml"
            raise FenceError(
                f"{filename}, line {block.begin}: solution block {where}, which is not one of the part's "
                f"exercise names in course.yml ({contract})"
            )
        fenced_names.add(owner.top_name)
        message = f"Exercise {exercises[owner.top_name].id}: implement {owner.shown_name} ({owner.spec})"
        replacements[block.begin] = block
        lines[block.begin - 1] = f"{block.indent}raise NotImplementedError({_string_literal(message)})\n"

    unfenced = [f"{exercise.id} ({name})" for name, exercise in exercises.items() if name not in fenced_names]
    if unfenced:
        raise FenceError(
            f"{filename}: exercise {', '.join(unfenced)} has no {BEGIN_FENCE} block, so its solution would "
            f"ship to students"
        )

    kept: list[str] = []
    skip_until = 0
    for number, line in enumerate(lines, start=1):
        if number <= skip_until:
            continue
        kept.append(line)
        if number in replacements:
            skip_until = replacements[number].end
    stub = _header(filename) + "".join(kept)
    try:
        ast.parse(stub, filename=filename)
    except SyntaxError as error:
        raise FenceError(
            f"{filename}: the stub is not valid Python once the solution blocks are removed "
            f"(stub line {error.lineno}: {error.msg}); does a fence's indentation differ from the code it wraps?"
        ) from None
    return stub


def _read_source(course_dir: Path, relative: str) -> str:
    try:
        return (course_dir / relative).read_text(encoding="utf-8")
    except OSError as error:
        raise FenceError(f"{relative}: cannot read: {error.strerror}") from None


def _expected_exercises(course_dir: Path, course: Course) -> dict[Path, str]:
    exercises = course_dir / "exercises"
    expected: dict[Path, str] = {}
    for part in course.assignment.parts:
        source = _read_source(course_dir, f"solutions/{part.file}")
        expected[exercises / part.file] = stub_source(source, course=course, filename=part.file)
    for given, filename in zip(course.given, course.given_modules, strict=True):
        source = _read_source(course_dir, given)
        blocks = _find_blocks(source.splitlines(keepends=True), filename)
        if blocks:
            raise FenceError(
                f"{filename}, line {blocks[0].begin}: a module given to students as is has a solution block"
            )
        expected[exercises / filename] = source
    return expected


def build_exercises(*, course_dir: Path, check_only: bool = False) -> list[Path]:
    """Generate exercises/<part>.py stubs from solutions/ and copy the given modules; return the paths written.

    Reads ``course_dir/course.yml`` for the parts and exercise ids. With `check_only`, writes nothing and
    raises `StaleExercisesError` listing every generated file that is missing or differs (returns ``[]``
    when all are up to date). Raises `FenceError` when a solution file is missing or its fences are malformed,
    `coursekit.config.CourseConfigError` when course.yml is.
    """
    course = load_course(course_dir / "course.yml")
    expected = _expected_exercises(course_dir, course)
    if check_only:
        stale = [
            path for path, text in expected.items() if not path.is_file() or path.read_text(encoding="utf-8") != text
        ]
        if stale:
            raise StaleExercisesError(stale)
        return []
    written: list[Path] = []
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        written.append(path)
    return written
