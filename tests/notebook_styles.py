"""Correct hand-ins in unusual styles (the ones the graders' own tests hold), pasted into the release notebook."""

from __future__ import annotations

import ast
import json
import sys

import nbformat
from repo_paths import REPO

from coursekit.config import load_course

COURSE = load_course(REPO / "course.yml")


def correct_styles() -> dict[str, list[str]]:
    """Three students, each a combination of the correct rewrites in tests/course (module sources, in course order).

    Between them: tanh from sigmoid and sigmoid from tanh, relu as x * (x > 0) and as a clamp, a model with its own
    tanh module and one registering its layers in another order, the split by slices and by Tensor.split, a loop
    that zeroes gradients last and one that validates first, and figures with symbol labels ("Temperature (°F)"),
    upper-case words ("degrees FAHRENHEIT"), pyplot's state machine and a bare matplotlib Figure.
    """
    if str(REPO / "tests" / "course") not in sys.path:
        sys.path.insert(0, str(REPO / "tests" / "course"))
    import test_graders_activations_model as am
    import test_graders_training as tr

    return {
        "style-sigmoid-own-tanh-scatter": [
            am.ACTIVATIONS_VIA_SIGMOID,
            am.MODEL_OWN_TANH,
            tr.HEADER + tr.SPLIT_SLICES + tr.LOOP_ZERO_GRAD_LAST + tr.PLOT_SCATTER,
        ],
        "style-ratios-reordered-figure": [
            am.ACTIVATIONS_VIA_RATIOS,
            am.MODEL_SEQUENTIAL_ORDER,
            tr.HEADER + tr.SPLIT_TENSOR_SPLIT + tr.LOOP_VALIDATION_FIRST + tr.PLOT_FIGURE,
        ],
        "style-pyplot": [tr.HEADER + tr.PLOT_PYPLOT],
    }


def copy_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.from_dict(json.loads(json.dumps(notebook)))


def solution_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The notebook's solution cells by grade_id (ex1_1_tanh, ...)."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def styled_notebook(filled: nbformat.NotebookNode, sources: list[str]) -> nbformat.NotebookNode:
    """The notebook with each solution cell replaced by a style's definition of that exercise, as a student pastes
    code in: what precedes a definition (helpers, imports) goes into its cell, and so does an exercise it calls
    whose own cell comes later (tanh from sigmoid: sigmoid is written in tanh's cell too, since the notebook runs
    tanh's test cell first); imports of the parts' modules are dropped, since the notebook defines those names."""
    notebook = copy_notebook(filled)
    cells = {grade_id.split("_", 2)[2]: cell for grade_id, cell in solution_cells(notebook).items()}
    order = list(cells)
    modules = {part.module for part in COURSE.assignment.parts}
    for source in sources:
        tree = ast.parse(source)
        lines = source.splitlines()
        texts: dict[str, str] = {}
        uses: dict[str, set[str]] = {}
        pending: list[str] = []
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                continue
            pending.append("\n".join(lines[first - 1 : node.end_lineno]))
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in cells:
                texts[node.name] = "\n\n\n".join(pending)
                uses[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                pending = []
        for name, text in texts.items():
            later = [other for other in texts if other in uses[name] and order.index(other) > order.index(name)]
            cells[name].source = "\n\n\n".join([*(texts[other] for other in later), text])
    return notebook


def style_modules(sources: list[str]) -> dict[str, str]:
    """The style as .py files: each part's module from the reference, replaced by the style's where it has one."""
    files = {
        part.file: (REPO / "solutions" / part.file).read_text(encoding="utf-8") for part in COURSE.assignment.parts
    }
    for source in sources:
        names = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for part in COURSE.assignment.parts:
            if {exercise.name for exercise in part.exercises} <= names:
                files[part.file] = source
            elif names & {exercise.name for exercise in part.exercises}:
                # A part only partly restyled: the reference's module with the style's definitions appended.
                files[part.file] = files[part.file] + "\n\n" + source
    return files
