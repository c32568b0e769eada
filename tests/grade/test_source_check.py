"""coursekit.grade.source_check: what a function of a hand-in can reach, read from its source, or why the check cannot tell.

Each case is a small activations.py; the analyzer must name what the function can refer to (whatever alias or
helper it goes through), report nothing a module's other functions or its own tests use, and say where and why
it cannot follow the code instead of answering as if it could.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.grade.source_check import HandinSource, Reach


def reach(source: str, function: str = "tanh", **others: str) -> Reach:
    sources = {"activations": textwrap.dedent(source), **{k: textwrap.dedent(v) for k, v in others.items()}}
    return HandinSource(sources).reach("activations", function)


def names(source: str, function: str = "tanh", **others: str) -> set[str]:
    found = reach(source, function, **others)
    assert not found.unverifiable, found.unverifiable
    return {reference.name for reference in found.references}


def reasons(source: str, function: str = "tanh", **others: str) -> list[str]:
    return [f"line {u.line} {u.reason}" for u in reach(source, function, **others).unverifiable]


# --- names the function can reach, however they are spelled ---------------------------------------------------

REACHES = {
    "from-import alias": ("from torch import tanh as t\ndef tanh(x):\n    return t(x)\n", "torch.tanh"),
    "module-level alias": ("import torch\n_t = torch.tanh\ndef tanh(x):\n    return _t(x)\n", "torch.tanh"),
    "functional alias": (
        "import torch.nn.functional as F\ndef tanh(x):\n    return F.relu(x)\n",
        "torch.nn.functional.relu",
    ),
    "tensor method": ("def tanh(x):\n    return x.tanh()\n", "?.tanh"),
    "in-place method": ("def tanh(x):\n    return x.clone().sigmoid_()\n", "?.sigmoid_"),
    "torch.special": (
        "import torch\ndef tanh(x):\n    return 2 * torch.special.expit(2 * x) - 1\n",
        "torch.special.expit",
    ),
    "torch.ops": (
        "import torch\ndef tanh(x):\n    return torch.ops.aten.tanh.default(x)\n",
        "torch.ops.aten.tanh.default",
    ),
    "a module instance": ("from torch import nn\n_m = nn.Tanh()\ndef tanh(x):\n    return _m(x)\n", "torch.nn.Tanh"),
    "getattr with a constant": ("import torch\ndef tanh(x):\n    return getattr(torch, 'tanh')(x)\n", "torch.tanh"),
    "helpers, transitively": (
        "import torch\ndef _h(x):\n    return torch.tanh(x)\ndef _g(x):\n    return _h(x)\ndef tanh(x):\n    return _g(x)\n",
        "torch.tanh",
    ),
    "rebound after the def": ("import torch\ndef tanh(x):\n    return x\ntanh = torch.tanh\n", "torch.tanh"),
    "rebound through a call": (
        "import torch\ndef tanh(x):\n    return torch.tanh(x)\ntanh = (lambda f: f)(tanh)\n",
        "torch.tanh",
    ),
    "a default argument": ("import torch\ndef tanh(x, _f=torch.tanh):\n    return _f(x)\n", "torch.tanh"),
    "a global set by a helper": (
        "import torch\n_t = None\ndef _setup():\n    global _t\n    _t = torch.tanh\n_setup()\n"
        "def tanh(x):\n    return _t(x)\n",
        "torch.tanh",
    ),
    "a registry filled by a decorator": (
        "import torch\n_R = {}\ndef reg(fn):\n    _R['k'] = fn\n    return fn\n@reg\ndef _impl(x):\n"
        "    return torch.tanh(x)\ndef tanh(x):\n    return _R['k'](x)\n",
        "torch.tanh",
    ),
    "a registry filled through two calls": (
        "import torch\n_R = []\ndef a(f):\n    b(f)\ndef b(g):\n    _R.append(g)\na(torch.tanh)\n"
        "def tanh(x):\n    return _R[0](x)\n",
        "torch.tanh",
    ),
    "a container passed as an argument": (
        "import torch\n_D = {}\ndef put(d, f):\n    d['k'] = f\nput(_D, torch.tanh)\ndef tanh(x):\n    return _D['k'](x)\n",
        "torch.tanh",
    ),
    "a registry another contract function fills": (
        "import torch\n_R = []\ndef _add(f):\n    _R.append(f)\ndef sigmoid(x):\n    _add(torch.tanh)\n    return x\n"
        "def tanh(x):\n    return _R[0](x)\n",
        "torch.tanh",
    ),
    "a closure": (
        "import torch\ndef make(f):\n    return lambda x: f(x)\n_t = make(torch.tanh)\ndef tanh(x):\n    return _t(x)\n",
        "torch.tanh",
    ),
    "a star import": ("from torch import *\ndef tanh(x):\n    return 2 * sigmoid(2 * x) - 1\n", "torch.sigmoid"),
    "a class pattern": (
        "import torch\ndef tanh(x):\n    match torch:\n        case object(tanh=t):\n            return t(x)\n",
        "torch.tanh",
    ),
    "another module of the hand-in": ("import training\ndef tanh(x):\n    return training.helper(x)\n", "torch.tanh"),
    "a builtin shadowed in a branch that never runs": (
        "import torch\nif False:\n    getattr = None\ndef tanh(x):\n    return getattr(torch, 'tanh')(x)\n",
        "torch.tanh",
    ),
}
TRAINING = "import torch\ndef helper(x):\n    return torch.tanh(x)\n"


@pytest.mark.parametrize("case", list(REACHES))
def test_the_function_reaches_the_name_however_it_is_spelled(case: str) -> None:
    source, name = REACHES[case]
    found = reach(source, training=TRAINING)
    assert name in {reference.name for reference in found.references}, found


def test_a_reference_knows_its_line() -> None:
    found = reach("import torch\n\n\ndef tanh(x):\n    return torch.tanh(x)\n")
    assert [r.line for r in found.references if r.name == "torch.tanh"] == [5]


# --- nothing the function cannot reach ------------------------------------------------------------------------


def test_other_functions_uses_are_not_the_functions() -> None:
    source = """
    import torch

    def sigmoid(x):
        e = torch.exp(-torch.abs(x))
        return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def tanh(x):
        return 2 * sigmoid(2 * x) - 1

    def relu(x):
        return torch.relu(x)
    """
    assert "torch.relu" not in names(source)
    assert "torch.exp" in names(source)


def test_a_shared_helper_carries_only_the_callers_own_arguments() -> None:
    source = """
    import torch

    def _apply(f, x):
        return f(x)

    def relu(x):
        return _apply(torch.relu, x)

    def tanh(x):
        return _apply(torch.exp, x)
    """
    assert "torch.relu" not in names(source)
    assert "torch.relu" in names(source, "relu")


def test_module_level_tests_and_the_main_guard_are_reported_apart() -> None:
    source = """
    import torch

    def tanh(x):
        return x * 1

    assert torch.allclose(tanh(torch.ones(1)), torch.tanh(torch.ones(1)) * 0 + 1)
    if __name__ == "__main__":
        print(torch.sigmoid(torch.ones(1)), eval("1"))
    """
    found = reach(source)
    assert not found.unverifiable
    assert not any("tanh" in r.name or "sigmoid" in r.name for r in found.references if r.name.startswith("torch"))
    assert "torch.tanh" in {r.name for r in found.on_import}
    assert "torch.sigmoid" not in {r.name for r in found.on_import}


def test_methods_of_the_hand_ins_own_classes_are_not_tensor_methods() -> None:
    source = """
    import torch

    class Activations:
        def sigmoid(self, x):
            return 1 / (1 + torch.exp(-x))

        def tanh(self, x):
            return 2 * self.sigmoid(2 * x) - 1

    tanh = Activations().tanh
    """
    assert not any(name.startswith("?") for name in names(source))


def test_the_reference_solutions_reach_only_elementary_operations() -> None:
    solutions = REPO / "solutions"
    source = HandinSource.read(solutions)
    for function in ("tanh", "sigmoid", "relu", "leaky_relu", "hardtanh", "softplus"):
        found = source.reach("activations", function)
        assert not found.unverifiable, found.unverifiable
        torch_names = {r.name for r in found.references if r.name.startswith("torch.")}
        assert torch_names <= {"torch.Tensor", "torch.where", "torch.expm1", "torch.exp", "torch.zeros_like",
                               "torch.clamp", "torch.log1p"}, (function, torch_names)  # fmt: skip


# --- where the check cannot tell, it says so --------------------------------------------------------------------

CANNOT_TELL = {
    "getattr with a computed name": (
        "import torch\ndef tanh(x):\n    return getattr(torch, 'ta' + 'nh')(x)\n",
        "line 3 uses getattr with a computed name",
    ),
    "getattr as a value": (
        "import functools, torch\ndef tanh(x):\n    return functools.reduce(getattr, ['tanh'], torch)(x)\n",
        "line 3 uses getattr with a computed name",
    ),
    "eval": ("import torch\ndef tanh(x):\n    return eval('torch.tanh')(x)\n", "line 3 uses eval"),
    "exec on import": ("exec('import torch')\ndef tanh(x):\n    return x\n", "line 1 uses exec"),
    "__import__": ("def tanh(x):\n    return __import__('torch').tanh(x)\n", "line 2 uses __import__"),
    "importlib": (
        "import importlib\ndef tanh(x):\n    return importlib.import_module('torch').tanh(x)\n",
        "line 3 uses importlib.import_module",
    ),
    "globals()": ("def tanh(x):\n    return globals()['_t'](x)\n", "line 2 uses globals()"),
    "__dict__": ("import torch\ndef tanh(x):\n    return torch.__dict__['tanh'](x)\n", "line 3 uses __dict__"),
    "a private API": (
        "import torch\ndef tanh(x):\n    with torch._C._DisableTorchDispatch():\n        return x\n",
        "line 3 uses torch._C, a private part of torch",
    ),
    "a change to an imported module": (
        "import torch\ntorch.exp = torch.tanh\ndef tanh(x):\n    return torch.exp(x)\n",
        "line 2 changes torch.exp, which belongs to torch",
    ),
    "the grading kit": (
        "from coursekit.sandbox import probes\nprobes.PROBES['value_and_grad'] = None\ndef tanh(x):\n    return x\n",
        "line 2 changes an item of coursekit.sandbox.probes.PROBES, which belongs to coursekit",
    ),
    "a thread started on import": (
        "import threading\ndef _w():\n    pass\nthreading.Thread(target=_w).start()\ndef tanh(x):\n    return x\n",
        "line 4 uses threading.Thread on import, which can run code alongside the function later",
    ),
    "a module written at run time": (
        "def tanh(x):\n    import made_at_run_time\n    return made_at_run_time.f(x)\n",
        "line 2 imports made_at_run_time, which is neither in the hand-in nor installed",
    ),
    "frames": (
        "def tanh(x):\n    try:\n        raise ValueError\n    except ValueError as e:\n"
        "        return e.__traceback__.tb_frame.f_globals['_t'](x)\n",
        "line 5 uses __traceback__",
    ),
    "a relative import": ("from . import training\ndef tanh(x):\n    return x\n", "line 1 uses a relative import"),
    "a syntax error": ("def tanh(x:\n    return x\n", "line 1 does not parse: '(' was never closed"),
    "no such function": ("def sigmoid(x):\n    return x\n", "line 0 does not define tanh where the check can see it"),
}


@pytest.mark.parametrize("case", list(CANNOT_TELL))
def test_where_the_check_cannot_follow_the_code_it_says_where_and_why(case: str) -> None:
    source, reason = CANNOT_TELL[case]
    assert reason in reasons(source), reasons(source)


def test_the_functions_own_places_come_before_what_its_module_does_on_import() -> None:
    source = "import torch\nfrom torch._C import _nn\ndef tanh(x):\n    return getattr(torch, 'ta' + 'nh')(x)\n"
    assert reasons(source)[0] == "line 4 uses getattr with a computed name"


# --- reading the hand-in --------------------------------------------------------------------------------------


def test_reading_a_folder_takes_its_python_files_and_follows_no_link(tmp_path: Path) -> None:
    (tmp_path / "activations.py").write_bytes("\ufeffimport torch\r\ndef tanh(x):\r\n\treturn x\r\n".encode())
    (tmp_path / "notes.txt").write_text("not python")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("import torch\n")
    os.symlink(outside, tmp_path / "model.py")
    source = HandinSource.read(tmp_path)
    assert set(source.sources) == {"activations"}
    assert not source.reach("activations", "tanh").unverifiable


def test_a_place_in_a_notebook_names_its_code_cell() -> None:
    text = "# %% code cell 1\nimport torch\n\n# %% code cell 3\ndef tanh(x):\n    return x\n"
    assert HandinSource({"activations": text}).where("activations", 6) == "activations.py line 6 (code cell 3)"
    assert HandinSource({"activations": "x = 1\n"}).where("activations", 1) == "activations.py line 1"
