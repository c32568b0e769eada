"""The activations and model graders judged on hand-ins: correct rewrites get full marks, bugs lose points with a hint.

Each hand-in is a folder holding copies of solutions/*.py with activations.py or model.py replaced, graded
with the instructors' debugging command (`pytest -c graders/pytest.ini --rootdir graders -p coursekit.grade.plugin
--handin ...`), run in-process by pytester so torch is imported once.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from repo_paths import REPO

from coursekit.config import load_course
from coursekit.grade.plugin import Verdict
from coursekit.sandbox import probes
from coursekit.sandbox.probes import OpRecorder
from coursekit.sandbox.student import InProcessStudent

pytest_plugins = ("pytester",)

GRADERS = REPO / "graders"
SOLUTIONS = REPO / "solutions"
COURSE = load_course(REPO / "course.yml")
POINTS = {part.id: part.points for part in COURSE.assignment.parts}
EXERCISES = {part.id: {exercise.id for exercise in part.exercises} for part in COURSE.assignment.parts}


def warm_up_operator_recorder() -> None:
    """Run the probes' operator recorder once before pytester snapshots sys.modules: its first use imports
    torch._dynamo, and re-importing that in a later run would register torch's operator libraries twice."""
    with OpRecorder():
        torch.ones(1) + 1


warm_up_operator_recorder()

# --- correct activations, written differently from the reference ---------------------------------------------

ACTIVATIONS_VIA_SIGMOID = """
import torch


def sigmoid(x):
    # e^-|x| never overflows; pick the formula by the sign of x (|x| from where: abs has gradient 0 at 0).
    e = torch.exp(-torch.where(x < 0, -x, x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    return 2 * sigmoid(2 * x) - 1


def relu(x):
    return x * (x > 0)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x >= 0, x, x * negative_slope)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return torch.where(x < min_val, torch.full_like(x, min_val), torch.where(x > max_val, torch.full_like(x, max_val), x))


def softplus(x, beta=1.0, threshold=20.0):
    z = x * beta
    return torch.where(z > threshold, x, torch.logaddexp(z, torch.zeros_like(z)) / beta)
"""

ACTIVATIONS_VIA_RATIOS = """
import torch


def tanh(x):
    m = torch.where(x < 0, -x, x)
    e = torch.exp(-2 * m)
    t = (1 - e) / (1 + e)
    return torch.where(x < 0, -t, t)


def sigmoid(x):
    return 0.5 * (1 + tanh(0.5 * x))


def relu(x):
    return torch.clamp(x, min=0)


def leaky_relu(x, negative_slope=0.01):
    positive = torch.clamp(x, min=0)
    return positive + negative_slope * (x - positive)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return x.clamp(min_val, max_val)


def softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    smooth = (torch.where(z > 0, z, 0 * z) + torch.log1p(torch.exp(torch.where(z > 0, -z, z)))) / beta
    return torch.where(z <= threshold, smooth, x)
"""

ACTIVATIONS_VIA_LOGADDEXP = """
import torch


def sigmoid(x):
    # 1 / (1 + e^-x) = exp(-log(1 + e^-x)), and logaddexp never overflows.
    return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))


def tanh(x):
    return 2 * sigmoid(2 * x) - 1


def relu(x):
    return (x + torch.abs(x)) / 2


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x > 0, x, x * negative_slope)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return torch.minimum(torch.maximum(x, torch.full_like(x, min_val)), torch.full_like(x, max_val))


def softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return torch.where(z >= threshold, x, torch.logaddexp(z, torch.zeros_like(z)) / beta)
"""

# --- correct models, written differently from the reference ---------------------------------------------------

MODEL_OWN_TANH = """
from torch import nn

from activations import tanh


class Tanh(nn.Module):
    def forward(self, x):
        return tanh(x)


class TemperatureNet(nn.Module):
    def __init__(self, n_hidden=13):
        super().__init__()
        self.hidden_linear = nn.Linear(1, n_hidden)
        self.hidden_activation = Tanh()
        self.output_linear = nn.Linear(n_hidden, 1)

    def forward(self, x):
        hidden = self.hidden_activation(self.hidden_linear(x))
        return self.output_linear(hidden)


def count_parameters(model):
    total = 0
    for parameter in model.parameters():
        if parameter.requires_grad:
            total += parameter.numel()
    return total
"""

MODEL_SEQUENTIAL_ORDER = """
import torch
from torch import nn


class TemperatureNet(nn.Module):
    def __init__(self, n_hidden=13):
        super().__init__()
        self.output_linear = nn.Linear(n_hidden, 1)
        self.hidden_activation = nn.Tanh()
        self.hidden_linear = nn.Linear(1, n_hidden)

    def forward(self, x):
        x = self.hidden_linear(x)
        x = self.hidden_activation(x)
        return self.output_linear(x)


def count_parameters(model):
    return int(sum(torch.tensor(p.shape).prod() for p in model.parameters() if p.requires_grad))
"""


def _reference(name: str) -> str:
    return (SOLUTIONS / name).read_text(encoding="utf-8")


def _with_function(source: str, name: str, body: str) -> str:
    """`source` with function `name` replaced by `body` (a whole def)."""
    start = source.index(f"\ndef {name}(")
    end = source.find("\ndef ", start + 1)
    end = len(source) if end == -1 else end
    return source[:start] + "\n" + textwrap.dedent(body).strip() + "\n\n" + source[end:]


def grade(pytester: pytest.Pytester, tmp_path: Path, part: str, files: dict[str, str]) -> list[Verdict]:
    """Grade a hand-in (the reference solutions with `files` replaced) with one part's graders; its verdicts."""
    handin = tmp_path / "handin"
    handin.mkdir(exist_ok=True)
    for module in SOLUTIONS.glob("*.py"):
        shutil.copy(module, handin / module.name)
    for name, text in files.items():
        (handin / name).write_text(text, encoding="utf-8")
    result = pytester.runpytest_inprocess(
        *("-c", str(GRADERS / "pytest.ini"), "--rootdir", str(GRADERS), "-p", "coursekit.grade.plugin"),
        *("--course", str(REPO / "course.yml"), "--handin", str(handin), "-q", "-p", "no:randomly"),
        str(GRADERS / f"test_{part}.py"),
    )
    config = result.reprec.getcall("pytest_unconfigure").config  # type: ignore[attr-defined]
    verdicts: list[Verdict] = config.pluginmanager.get_plugin("coursekit-grading").verdicts
    assert verdicts, result.stdout.str()
    assert not [v for v in verdicts if v.grader_error], [v for v in verdicts if v.grader_error]
    return verdicts


def score(verdicts: list[Verdict], exercise: str | None = None) -> float:
    return sum(v.score for v in verdicts if exercise is None or v.exercise == exercise)


def failures(verdicts: list[Verdict]) -> str:
    return "\n".join(f"{v.name}: {v.message}" for v in verdicts if not v.passed)


def lost(verdicts: list[Verdict]) -> dict[str, float]:
    """Points lost per exercise."""
    out: dict[str, float] = {}
    for verdict in verdicts:
        if not verdict.passed:
            out[verdict.exercise] = out.get(verdict.exercise, 0.0) + verdict.max_score
    return out


@pytest.mark.parametrize("part", ["activations", "model"])
def test_the_reference_gets_exactly_the_parts_points(pytester: pytest.Pytester, tmp_path: Path, part: str) -> None:
    verdicts = grade(pytester, tmp_path, part, {})
    assert sum(v.max_score for v in verdicts) == POINTS[part]
    assert {v.part for v in verdicts} == {part}
    assert {v.exercise for v in verdicts} == EXERCISES[part]
    assert score(verdicts) == POINTS[part], failures(verdicts)
    per_exercise = {e: sum(v.max_score for v in verdicts if v.exercise == e) for e in EXERCISES[part]}
    if part == "activations":
        assert set(per_exercise.values()) == {5.0}
    else:
        assert per_exercise == {"2.1": 22.0, "2.2": 8.0}


def _requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The probes the graders ask for from now on, in order."""
    asked: list[str] = []
    run = InProcessStudent.run

    def counting(self: InProcessStudent, probe: str, /, **arguments: Any) -> dict[str, Any]:
        asked.append(probe)
        return run(self, probe, **arguments)

    monkeypatch.setattr(InProcessStudent, "run", counting)
    return asked


def test_each_activations_checks_ask_for_their_calls_in_one_request(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _requests(monkeypatch)
    verdicts = grade(pytester, tmp_path, "activations", {})
    assert score(verdicts) == POINTS["activations"], failures(verdicts)
    # Six functions, one request each, where one request per call made 68.
    assert asked == ["value_and_grad_calls"] * 6


# Appended to the reference: the batch probe answers nothing of its form, the one-call probe is left alone.
BREAKS_THE_BATCH_PROBE = """

from coursekit.sandbox import probes as _probes

_probes.PROBES["value_and_grad_calls"] = lambda handin, **arguments: {"answers": "none of your business"}
"""


def test_a_handin_that_breaks_the_batch_probe_is_judged_call_by_call(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed batch answer does not cost every check: each call is asked again on its own and judged. Only
    the elementary points go, as for any module that reaches into the grading kit."""
    asked = _requests(monkeypatch)
    # The hand-in runs in this process here: its replacement is undone when the test ends.
    monkeypatch.setitem(probes.PROBES, "value_and_grad_calls", probes.PROBES["value_and_grad_calls"])
    source = _reference("activations.py") + BREAKS_THE_BATCH_PROBE
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    lost_checks = [v for v in verdicts if not v.passed]
    assert all(
        v.name.endswith("is built from elementary operations, not torch's own " + v.name.split()[1])
        for v in lost_checks
    )
    assert all("part of the grading kit" in v.message for v in lost_checks) and len(lost_checks) == 6
    assert asked.count("value_and_grad") >= 60


@pytest.mark.parametrize(
    "source",
    [ACTIVATIONS_VIA_SIGMOID, ACTIVATIONS_VIA_RATIOS, ACTIVATIONS_VIA_LOGADDEXP],
    ids=["via-sigmoid-logaddexp", "via-ratios-clamp", "via-logaddexp-minmax"],
)
def test_correct_activations_get_full_marks(pytester: pytest.Pytester, tmp_path: Path, source: str) -> None:
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    assert score(verdicts) == POINTS["activations"], failures(verdicts)


@pytest.mark.parametrize("source", [MODEL_OWN_TANH, MODEL_SEQUENTIAL_ORDER], ids=["own-tanh-loop", "reordered"])
def test_correct_models_get_full_marks(pytester: pytest.Pytester, tmp_path: Path, source: str) -> None:
    files = {"model.py": source, "activations.py": ACTIVATIONS_VIA_RATIOS}
    verdicts = grade(pytester, tmp_path, "model", files)
    assert score(verdicts) == POINTS["model"], failures(verdicts)


BUGGY_ACTIVATIONS = {
    "tanh-overflows": (
        "tanh",
        "def tanh(x):\n    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))",
        "1.1",
        "tanh(88.75) is nan in float32: e^|x| overflows float32 once |x| > 88.7228",
    ),
    "calls-torch-tanh": ("tanh", "def tanh(x):\n    return x.tanh()", "1.1", "uses torch's own tanh"),
    "sigmoid-overflows": (
        "sigmoid",
        "def sigmoid(x):\n    return 1 / (1 + torch.exp(-x))",
        "1.2",
        "sigmoid's gradient is nan at x = -88.75: e^|x| overflows float32 once |x| > 88.7228",
    ),
    "relu-detached": ("relu", "def relu(x):\n    return x.clamp(min=0).detach()", "1.3", "does not require grad"),
    "leaky-relu-ignores-slope": (
        "leaky_relu",
        "def leaky_relu(x, negative_slope=0.01):\n    return torch.where(x > 0, x, 0.01 * x)",
        "1.4",
        "leaky_relu ignores negative_slope",
    ),
    "leaky-relu-two-clamps": (
        "leaky_relu",
        "def leaky_relu(x, negative_slope=0.01):\n"
        "    return torch.clamp(x, min=0) + negative_slope * torch.clamp(x, max=0)",
        "1.4",
        # Both clamps pass the gradient at 0: 1 + negative_slope, outside every subgradient.
        "leaky_relu's gradient at x = 0.0 is 1.01, but torch.nn.functional.leaky_relu's is anything from",
    ),
    "hardtanh-ignores-bounds": (
        "hardtanh",
        "def hardtanh(x, min_val=-1.0, max_val=1.0):\n    return torch.clamp(x, -1.0, 1.0)",
        "1.5",
        "hardtanh ignores min_val and max_val",
    ),
    "softplus-no-threshold": (
        "softplus",
        "def softplus(x, beta=1.0, threshold=20.0):\n"
        "    z = beta * x\n"
        "    return (torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z)))) / beta",
        "1.6",
        "softplus ignores threshold: for beta*x > threshold torch returns x itself",
    ),
    "tanh-abs-sign": (
        "tanh",
        "def tanh(x):\n    e = torch.exp(-2 * torch.abs(x))\n    return torch.sign(x) * (1 - e) / (1 + e)",
        "1.1",
        "tanh's gradient at x = 0.0 is 0, but torch.tanh's is 1 — at exactly 0, torch.abs and torch.sign have gradient 0",
    ),
    "tanh-exp-2x": (
        "tanh",
        "def tanh(x):\n    e = torch.exp(2 * x)\n    return (e - 1) / (e + 1)",
        "1.1",
        "tanh(44.4) is nan in float32: e^(2x) overflows float32 once |x| > 44.3614",
    ),
    "sigmoid-abs": (
        "sigmoid",
        "def sigmoid(x):\n    e = torch.exp(-torch.abs(x))\n    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))",
        "1.2",
        "sigmoid's gradient at x = 0.0 is 0, but torch.sigmoid's is 0.25",
    ),
    "softplus-clamp-abs": (
        "softplus",
        "def softplus(x, beta=1.0, threshold=20.0):\n"
        "    z = beta * x\n"
        "    smooth = (torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z)))) / beta\n"
        "    return torch.where(z > threshold, x, smooth)",
        "1.6",
        "softplus's gradient at x = 0.0 is 1, but torch.nn.functional.softplus's is 0.5",
    ),
    "relu-python-list": (
        "relu",
        "def relu(x):\n    return torch.tensor([max(v, 0.0) for v in x.flatten().tolist()]).reshape(x.shape)",
        "1.3",
        "returned float32 for a float64 input",
    ),
}


@pytest.mark.parametrize("bug", list(BUGGY_ACTIVATIONS))
def test_buggy_activations_lose_points_with_a_hint(pytester: pytest.Pytester, tmp_path: Path, bug: str) -> None:
    name, body, exercise, hint = BUGGY_ACTIVATIONS[bug]
    source = _with_function(_reference("activations.py"), name, body)
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    assert set(lost(verdicts)) == {exercise}, failures(verdicts)
    messages = [v.message for v in verdicts if not v.passed]
    assert any(hint in message for message in messages), messages


def test_a_float64_precision_bug_costs_only_the_float64_value_checks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Rounding through float32 keeps the dtype: the shape checks (0-d inputs included) do not charge it."""
    source = _reference("activations.py").replace(
        "return torch.where(x >= 0, t, -t)", "return torch.where(x >= 0, t, -t).float().to(x.dtype)", 1
    )
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    failed = [v.name for v in verdicts if not v.passed]
    assert failed and all("float64" in name for name in failed), failed
    assert not [name for name in failed if "shape" in name], failed
    assert set(lost(verdicts)) == {"1.1"}, failures(verdicts)


def test_a_wrong_formula_costs_the_shape_checks_with_a_pointer_to_the_value_check(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    source = _with_function(_reference("activations.py"), "relu", "def relu(x):\n    return x * 0")
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    shape = [v for v in verdicts if "shape" in v.name and v.exercise == "1.3"]
    assert shape and not any(v.passed for v in shape)
    assert all("the failed value check 'relu matches torch.relu in value' says where" in v.message for v in shape)


@pytest.fixture(scope="module")
def activation_graders(pytestconfig: pytest.Config) -> ModuleType:
    """graders/test_activations.py, imported under another name to call its judging rule directly (its markers
    registered as graders/pytest.ini registers them)."""
    for marker in ("points(value, exercise): a grader's points", "public: a grader check that mirrors a public test"):
        pytestconfig.addinivalue_line("markers", marker)
    spec = importlib.util.spec_from_file_location("activation_graders", GRADERS / "test_activations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _functions(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<activations style>", "exec"), namespace)
    return namespace


CORRECT_STYLES = {
    "reference": _functions(_reference("activations.py")),
    "via-sigmoid-logaddexp": _functions(ACTIVATIONS_VIA_SIGMOID),
    "via-ratios-clamp": _functions(ACTIVATIONS_VIA_RATIOS),
    "via-logaddexp-minmax": _functions(ACTIVATIONS_VIA_LOGADDEXP),
}


@pytest.mark.parametrize("style", list(CORRECT_STYLES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_correct_styles_meet_the_graders_rule_at_every_float_hypothesis_tries(
    activation_graders: ModuleType, style: str, dtype: torch.dtype, data: st.DataObject
) -> None:
    """The graders' rule (torch's value and gradient, any subgradient at a kink, within tolerance) accepts every
    correct style at any float of the checks' range: hypothesis searches where the fixed points do not."""
    x = torch.tensor([data.draw(st.floats(-40, 40, width=32 if dtype == torch.float32 else 64))], dtype=dtype)
    tolerance = activation_graders._TOLERANCE[dtype]
    for name, activation in activation_graders.ACTIVATIONS.items():
        leaf = x.clone().requires_grad_(True)
        value = CORRECT_STYLES[style][name](leaf)
        (grad,) = torch.autograd.grad(value, leaf, torch.ones_like(x))
        accepted_value, accepted_grad = activation_graders._accepted(activation, x, {}, torch.ones_like(x))
        assert activation_graders._worst_outside(value.detach(), accepted_value, tolerance) is None, (name, x, value)
        assert activation_graders._worst_outside(grad, accepted_grad, tolerance) is None, (name, x, grad)


# Torch's own activations under other names: each costs its elementary point, and the message names the line.
DISGUISED = """
import torch
import torch.nn.functional as F
from torch import nn
from torch import sigmoid as _logistic

_tanh = torch.tanh
_softplus = nn.Softplus()


def _helper(x):
    return _tanh(x)


def tanh(x):
    return _helper(x)


def sigmoid(x):
    return _logistic(x)


def relu(x):
    return x.clone().relu_()


def leaky_relu(x, negative_slope=0.01):
    return getattr(F, "leaky_relu")(x, negative_slope)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return torch.ops.aten.hardtanh(x, min_val, max_val)


def softplus(x, beta=1.0, threshold=20.0):
    return _softplus(x) if beta == 1.0 and threshold == 20.0 else F.softplus(x, beta, threshold)
"""


def test_torchs_own_activations_under_other_names_cost_the_elementary_points(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": DISGUISED})
    assert lost(verdicts) == dict.fromkeys(EXERCISES["activations"], 1.0), failures(verdicts)
    messages = {v.exercise: v.message for v in verdicts if not v.passed}
    assert "activations.py line 7 refers to torch.tanh" in messages["1.1"], messages
    assert "activations.py line 5 refers to torch.sigmoid" in messages["1.2"], messages
    assert ".relu_ of a value" in messages["1.3"], messages
    assert "refers to torch.nn.functional.leaky_relu" in messages["1.4"], messages
    assert "refers to torch.ops.aten.hardtanh" in messages["1.5"], messages
    assert "refers to torch.nn.Softplus" in messages["1.6"], messages


def test_code_the_check_cannot_read_earns_no_elementary_point_and_says_so_politely(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    source = _reference("activations.py").replace("torch.expm1(", 'getattr(torch, "exp" + "m1")(')
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": source})
    failed = [v for v in verdicts if not v.passed]
    assert [v.name for v in failed] == ["1.1 tanh is built from elementary operations, not torch's own tanh"], failures(
        verdicts
    )
    message = failed[0].message
    assert message.startswith("could not verify that tanh is built from elementary operations: activations.py line ")
    assert "uses getattr with a computed name" in message and "This is not an accusation" in message


REFERENCE_MODEL = _reference("model.py")

BUGGY_MODELS = {
    "relu-network": (
        REFERENCE_MODEL.replace("nn.Tanh()", "nn.ReLU()"),
        {"2.1"},
        "hidden activation is ReLU",
    ),
    "no-hidden-activation": (
        REFERENCE_MODEL.replace("self.hidden_activation(self.hidden_linear(x))", "self.hidden_linear(x)"),
        {"2.1"},
        "forward skips hidden_activation",
    ),
    "calls-forward-directly": (
        REFERENCE_MODEL.replace(
            "    def forward(self, x: Tensor) -> Tensor:",
            "    def __call__(self, x: Tensor) -> Tensor:\n        return self.forward(x)\n\n"
            "    def forward(self, x: Tensor) -> Tensor:",
        ),
        {"2.1"},
        "forward hooks did not run",
    ),
    "wrong-layer-names": (
        REFERENCE_MODEL.replace("hidden_linear", "hidden"),
        {"2.1"},
        "name its submodules exactly hidden_linear, hidden_activation and output_linear",
    ),
    "count-ignores-requires-grad": (
        REFERENCE_MODEL.replace(" if p.requires_grad)", ")"),
        {"2.2"},
        "counts frozen parameters too",
    ),
    "count-returns-tensor": (
        REFERENCE_MODEL.replace(
            "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
            "import torch\n\n    return torch.tensor(sum(p.numel() for p in model.parameters() if p.requires_grad))",
        ),
        {"2.2"},
        "count_parameters returned a Tensor",
    ),
    "bypasses-hidden-activation": (
        REFERENCE_MODEL.replace("self.hidden_activation(self.hidden_linear(x))", "self.hidden_linear(x).tanh()"),
        {"2.1"},
        "forward does not call self.hidden_activation as a module: its forward hooks did not run",
    ),
    "calls-submodule-forward": (
        REFERENCE_MODEL.replace("self.hidden_linear(x)", "self.hidden_linear.forward(x)"),
        {"2.1"},
        "forward does not call self.hidden_linear as a module",
    ),
    "tanh-module-overflows": (
        REFERENCE_MODEL.replace(
            "class TemperatureNet(nn.Module):",
            "class Tanh(nn.Module):\n    def forward(self, x):\n        e = (2 * x).exp()\n"
            "        return (e - 1) / (e + 1)\n\n\nclass TemperatureNet(nn.Module):",
        ).replace("nn.Tanh()", "Tanh()"),
        {"2.1"},
        "TemperatureNet.hidden_activation(44.4) is nan, but tanh(44.4) is 1: nn.Tanh is right for every finite "
        "input, and e^(2x) overflows float32 once |x| > 44.3614",
    ),
    "no-hidden-activation-attribute": (
        REFERENCE_MODEL.replace("        self.hidden_activation = nn.Tanh()\n", "").replace(
            "self.hidden_activation(self.hidden_linear(x))", "self.hidden_linear(x).tanh()"
        ),
        {"2.1"},
        "TemperatureNet has no hidden_activation",
    ),
    "count-state-dict": (
        REFERENCE_MODEL.replace(
            "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
            "return sum(t.numel() for t in model.state_dict().values())",
        ),
        {"2.2"},
        "counts state_dict() entries: the state holds buffers too",
    ),
    "count-shared-twice": (
        REFERENCE_MODEL.replace(
            "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
            "return sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False) if p.requires_grad)",
        ),
        {"2.2"},
        "counts a shared (tied) parameter once for each module that holds it",
    ),
    "count-parameters-to-vector": (
        REFERENCE_MODEL.replace(
            "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
            "return nn.utils.parameters_to_vector([p for p in model.parameters() if p.requires_grad]).numel()",
        ),
        {"2.2"},
        "nothing trainable) failed: model.py, line",
    ),
    "count-weights-only": (
        REFERENCE_MODEL.replace(
            "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
            "return sum(m.weight.numel() for m in model.modules() if getattr(m, 'weight', None) is not None)",
        ),
        {"2.2"},
        "counts the weights only",
    ),
}


@pytest.mark.parametrize("bug", list(BUGGY_MODELS))
def test_buggy_models_lose_points_with_a_hint(pytester: pytest.Pytester, tmp_path: Path, bug: str) -> None:
    source, exercises, hint = BUGGY_MODELS[bug]
    assert source != REFERENCE_MODEL
    verdicts = grade(pytester, tmp_path, "model", {"model.py": source})
    assert set(lost(verdicts)) == exercises, failures(verdicts)
    messages = [v.message for v in verdicts if not v.passed]
    assert any(hint in message for message in messages), messages


def test_a_missing_hidden_activation_is_called_missing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    source = BUGGY_MODELS["no-hidden-activation-attribute"][0]
    verdicts = grade(pytester, tmp_path, "model", {"model.py": source})
    messages = [v.message for v in verdicts if not v.passed]
    assert messages and not [m for m in messages if "not an nn.Module" in m], messages


OVERFLOWING_TANH = "def tanh(x):\n    e = torch.exp(2 * x)\n    return (e - 1) / (e + 1)"


def test_a_model_built_on_its_own_overflowing_tanh_is_charged_in_the_activations_part_only(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The same mistake, in activations.py, reached by the model through its own Tanh module: it costs once."""
    files = {
        "model.py": MODEL_OWN_TANH,
        "activations.py": _with_function(_reference("activations.py"), "tanh", OVERFLOWING_TANH),
    }
    assert score(grade(pytester, tmp_path, "model", files)) == POINTS["model"]
    assert set(lost(grade(pytester, tmp_path, "activations", files))) == {"1.1"}


def test_a_broken_model_costs_no_activation_points(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, "activations", {"model.py": "raise ImportError('half written')\n"})
    assert score(verdicts) == POINTS["activations"], failures(verdicts)


def test_missing_activations_cost_every_activation_point_with_a_message(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    handin_source = _reference("activations.py").replace("def softplus(", "def soft_plus(")
    verdicts = grade(pytester, tmp_path, "activations", {"activations.py": handin_source})
    assert lost(verdicts) == {"1.6": 5.0}, failures(verdicts)
    assert {v.message for v in verdicts if not v.passed} == {"activations.py does not define softplus"}
