"""Hand-ins for the code-similarity tests and bench/calibrate_similarity.py: honest correct answers in three styles
(the sample class's correct hand-in and the correct rewrites the grader tests hold), and a copy of one of them with
its names changed and its functions reordered."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import sys
from types import ModuleType

from repo_paths import REPO, TESTS


def _course_test_module(name: str) -> ModuleType:
    """tests/course/<name>.py, under the module name pytest gives it, so that both share one module."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / "course" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


activations_model = _course_test_module("test_graders_activations_model")
training = _course_test_module("test_graders_training")
MODULES = ("activations.py", "model.py", "training.py")


def correct_styles() -> dict[str, str]:
    """Three honest hand-ins, each its part files joined in course order."""
    reference = REPO / "examples" / "submissions" / "alice"
    return {
        "reference": "\n\n".join((reference / name).read_text(encoding="utf-8") for name in MODULES),
        "rewrite_a": "\n\n".join(
            [
                activations_model.ACTIVATIONS_VIA_SIGMOID,
                activations_model.MODEL_OWN_TANH,
                training.training_source(
                    split=training.SPLIT_SLICES, loop=training.LOOP_ZERO_GRAD_LAST, plot=training.PLOT_SCATTER
                ),
            ]
        ),
        "rewrite_b": "\n\n".join(
            [
                activations_model.ACTIVATIONS_VIA_RATIOS,
                activations_model.MODEL_SEQUENTIAL_ORDER,
                training.training_source(
                    split=training.SPLIT_TENSOR_SPLIT, loop=training.LOOP_VALIDATION_FIRST, plot=training.PLOT_PYPLOT
                ),
            ]
        ),
    }


class _Renamer(ast.NodeTransformer):
    """Every local name and argument renamed (what a student who copies does first)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name in dir(builtins) or name in {"torch", "nn", "plt", "self", "matplotlib", "copy", "Figure", "Tensor"}:
            return name
        return self.names.setdefault(name, f"my_{name}_{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        return node


def copied(source: str) -> str:
    """`source` with its variables renamed, its functions in reverse order and its comments gone."""
    tree = ast.parse(source)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    others = [node for node in tree.body if not isinstance(node, ast.FunctionDef | ast.ClassDef)]
    tree.body = [*others, *reversed(functions)]
    return ast.unparse(_Renamer().visit(tree))
