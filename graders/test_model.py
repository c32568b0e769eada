"""Hidden graders for Exercise 2, the custom nn.Module (part `model`, 30 points: 2.1 22, 2.2 8).

TemperatureNet is judged on what it computes with weights chosen here (`model_forward`): the output, the
gradients and the hidden activation are recomputed in this process with torch and compared. What the student's
process reports about the model (`model_structure`: its children, parameter shapes, whether it overrides
__call__) only denies points: each structural point also needs the model's output for the grader's weights,
loaded under the contract's names, to be what a network of those layers computes. count_parameters runs on
generic models the grader describes (Linear, Conv1d, BatchNorm1d with its buffers, tied weights, nothing
trainable), so a broken TemperatureNet costs 2.1's points only.

The contract, as TemperatureNet's docstring states it: forward calls each registered submodule as a module
(`self.hidden_activation(h)`, never torch.tanh in its place nor `.forward(h)`), which a forward hook on each
submodule witnesses; hidden_activation computes tanh for every finite input, as nn.Tanh does.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from coursekit.grade.source_check import HandinSource
from coursekit.sandbox.student import Student, StudentError

# Reseeded before every test from course.yml's seed and the test's name (graders/conftest.py).
_GENERATOR = torch.Generator()

# float32 forward and backward through 1 -> n -> 1 layers with unit-scale weights: a few ulps of error.
_ATOL, _RTOL = 1e-5, 1e-5

CHILDREN = ("hidden_linear", "hidden_activation", "output_linear")
N_HIDDEN = [pytest.param(None, id="default"), pytest.param(5, id="n_hidden=5")]


def _randn(*shape: int, scale: float = 1.0) -> Tensor:
    return torch.randn(*shape, generator=_GENERATOR) * scale


def _weights(n_hidden: int) -> dict[str, Tensor]:
    return {
        "hidden_linear.weight": _randn(n_hidden, 1),
        "hidden_linear.bias": _randn(n_hidden),
        "output_linear.weight": _randn(1, n_hidden),
        "output_linear.bias": _randn(1),
    }


def _network(state: dict[str, Tensor], x: Tensor, activation: Any) -> Tensor:
    hidden = x @ state["hidden_linear.weight"].T + state["hidden_linear.bias"]
    return activation(hidden) @ state["output_linear.weight"].T + state["output_linear.bias"]


def _close(got: Tensor | None, expected: Tensor) -> bool:
    return got is not None and got.shape == expected.shape and torch.allclose(got, expected, rtol=_RTOL, atol=_ATOL)


@dataclasses.dataclass(frozen=True)
class ForwardRun:
    """The student's model run on the grader's weights and inputs, and what came back."""

    result: dict[str, Any]
    state: dict[str, Tensor]
    x: Tensor
    hook_offset: float
    grad_output: Tensor
    activation_input: Tensor


def _forward(student: Student, n_hidden: int | None, batch: int) -> ForwardRun:
    """Run TemperatureNet(n_hidden) (None: its default, 13 by the contract) on fresh weights of the grader's."""
    state = _weights(13 if n_hidden is None else n_hidden)
    x = _randn(batch, 1, scale=2.0)
    hook_offset = float(torch.rand((), generator=_GENERATOR)) + 0.5
    grad_output, activation_input = _randn(batch, 1), _randn(4, 6, scale=3.0)
    result = student.run(
        "model_forward",
        n_hidden=n_hidden,
        state=state,
        x=x,
        hook_offset=hook_offset,
        grad_output=grad_output,
        activation_input=activation_input,
    )
    return ForwardRun(result, state, x, hook_offset, grad_output, activation_input)


def _matches(output: Tensor, expected: Tensor, hook_offset: float) -> bool:
    """Whether the output is `expected`, with the hook's offset added or (hooks skipped) without it."""
    return _close(output, expected + hook_offset) or _close(output, expected)


# The activations a 1 -> n -> 1 network of the contract's layers is likely to use (the forward check names each).
NETWORK_ACTIVATIONS: tuple[Callable[[Tensor], Tensor], ...] = (torch.tanh, lambda h: h, torch.relu, torch.sigmoid)


def network_activation(run: ForwardRun) -> Callable[[Tensor], Tensor] | None:
    """The activation of the network whose output (in any layout) the model gave for the grader's weights, or None.

    This is the behavioural evidence behind every structural point: the grader's random weights, loaded under
    hidden_linear and output_linear, produced exactly what a network of those layers computes.
    """
    output = run.result["output"]
    if output.numel() != run.x.shape[0]:
        return None
    for activation in NETWORK_ACTIVATIONS:
        if _matches(output.reshape(-1, 1), _network(run.state, run.x, activation), run.hook_offset):
            return activation
    return None


def computes_an_activation(run: ForwardRun) -> bool:
    """Whether hidden_activation, called alone, computed one of those activations elementwise."""
    got = run.result["activation_output"]
    return got is not None and any(_close(got, a(run.activation_input)) for a in NETWORK_ACTIVATIONS)


def not_confirmed(claim: str) -> str:
    return (
        f"the check confirms {claim} only by what the model computes: with the grader's weights loaded into "
        "hidden_linear and output_linear, TemperatureNet's output is not output_linear(activation(hidden_linear(x))) "
        "for tanh or another usual activation (see the forward check)"
    )


# --- 2.1 TemperatureNet (22 points) -------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(2, exercise="2.1")
@pytest.mark.parametrize("n_hidden", N_HIDDEN)
def test_registers_three_submodules(student: Student, n_hidden: int | None) -> None:
    """TemperatureNet registers hidden_linear, hidden_activation and output_linear"""
    structure = student.run("model_structure", n_hidden=n_hidden)
    names = [name for name, _ in structure["children"]]
    missing = [name for name in CHILDREN if name not in names]
    extra = [name for name in names if name not in CHILDREN]
    if missing == ["hidden_activation"] and not extra:
        pytest.fail(
            "TemperatureNet registers no hidden_activation: assign the tanh module in __init__ "
            "(self.hidden_activation = nn.Tanh()) and call it in forward",
            pytrace=False,
        )
    assert not missing and not extra, (
        f"TemperatureNet registers {names}: name its submodules exactly hidden_linear, hidden_activation "
        f"and output_linear (no others), assigned as attributes in __init__"
    )
    run = _forward(student, n_hidden, 5)
    assert network_activation(run) is not None, not_confirmed("the three submodules")
    assert computes_an_activation(run), (
        "TemperatureNet.hidden_activation, called on its own, does not compute an activation elementwise: "
        "register the tanh module itself (self.hidden_activation = nn.Tanh())"
    )


@pytest.mark.public
@pytest.mark.points(2, exercise="2.1")
@pytest.mark.parametrize("n_hidden", N_HIDDEN)
def test_parameter_shapes(student: Student, n_hidden: int | None) -> None:
    """TemperatureNet's parameters have the contract's names and shapes, all trainable"""
    structure = student.run("model_structure", n_hidden=n_hidden)
    size = 13 if n_hidden is None else n_hidden
    expected = {
        "hidden_linear.weight": (size, 1),
        "hidden_linear.bias": (size,),
        "output_linear.weight": (1, size),
        "output_linear.bias": (1,),
    }
    got = {name: tuple(shape) for name, shape, _ in structure["parameters"]}
    built = f"TemperatureNet({'' if n_hidden is None else n_hidden})"
    assert got.keys() == expected.keys(), (
        f"{built} has the parameters {sorted(got)}, expected {sorted(expected)}: two nn.Linear layers "
        f"named hidden_linear and output_linear, each with a bias"
    )
    for name, shape in expected.items():
        assert got[name] == shape, (
            f"{built}: {name} has shape {list(got[name])}, expected {list(shape)} — "
            + ("n_hidden defaults to 13" if n_hidden is None else "use n_hidden, not a fixed 13")
            + ", and the layers are Linear(1, n_hidden) and Linear(n_hidden, 1)"
        )
    frozen = [name for name, _, requires_grad in structure["parameters"] if not requires_grad]
    assert not frozen, f"{built} freezes {frozen}: every parameter must be trainable (requires_grad)"
    # The grader's weights of these shapes load under these names, and each one gets its gradient.
    run = _forward(student, n_hidden, 5)
    activation = network_activation(run)
    assert activation is not None, not_confirmed("the parameters' names and shapes")
    state = {name: tensor.clone().requires_grad_(True) for name, tensor in run.state.items()}
    _network(state, run.x, activation).backward(run.grad_output)
    for name, parameter in state.items():
        got = run.result["grads"].get(name)
        assert _close(got, parameter.grad), (
            f"{built}: no gradient, or a different one, reaches {name}: every parameter must be trainable "
            f"(requires_grad) and used in forward"
        )


@pytest.mark.public
@pytest.mark.points(1, exercise="2.1")
@pytest.mark.parametrize("batch", [1, 7], ids=["N=1", "N=7"])
def test_output_shape(student: Student, batch: int) -> None:
    """TemperatureNet maps a batch of shape [N, 1] to [N, 1]"""
    run = _forward(student, 13, batch)
    shape = list(run.result["output"].shape)
    assert shape == [batch, 1], (
        f"TemperatureNet's output for an input of shape [{batch}, 1] has shape {shape}: keep the batch "
        f"dimension (no squeeze, no flatten) and end with output_linear"
    )
    assert network_activation(run) is not None, not_confirmed("the output's shape")


@pytest.mark.public
@pytest.mark.points(2, exercise="2.1")
@pytest.mark.parametrize("n_hidden", [13, 5], ids=["n_hidden=13", "n_hidden=5"])
def test_forward_computes_the_network(student: Student, n_hidden: int) -> None:
    """TemperatureNet computes output_linear(tanh(hidden_linear(x)))"""
    run = _forward(student, n_hidden, 9)
    output, state, x, hook_offset = run.result["output"], run.state, run.x, run.hook_offset
    expected = _network(state, x, torch.tanh)
    assert output.shape == expected.shape, f"TemperatureNet's output has shape {list(output.shape)}, expected [9, 1]"
    if _matches(output, expected, hook_offset):
        return
    if _matches(output, _network(state, x, lambda h: h), hook_offset):
        pytest.fail(
            "TemperatureNet's output is linear in its input: forward skips hidden_activation "
            "(it must be output_linear(hidden_activation(hidden_linear(x))))",
            pytrace=False,
        )
    for activation, name in ((torch.relu, "ReLU"), (torch.sigmoid, "sigmoid")):
        if _matches(output, _network(state, x, activation), hook_offset):
            pytest.fail(f"TemperatureNet's hidden activation is {name}: the chapter's network uses tanh", pytrace=False)
    output = output - hook_offset
    worst = int((output - expected).abs().argmax())
    pytest.fail(
        f"TemperatureNet's output differs from output_linear(tanh(hidden_linear(x))) with the same weights: "
        f"{float(output.flatten()[worst]):.6g} instead of {float(expected.flatten()[worst]):.6g} at "
        f"x = {float(x.flatten()[worst]):.4g}",
        pytrace=False,
    )


@pytest.mark.points(1, exercise="2.1")
def test_forward_hooks_run(student: Student) -> None:
    """Calling TemperatureNet runs its forward hooks (nn.Module.__call__ is used)"""
    # The same weights and input twice, with hooks adding different offsets: the outputs differ by exactly
    # the offsets' difference when the hooks run, whatever the network computes.
    state, x = _weights(13), _randn(6, 1, scale=2.0)
    runs = [
        ForwardRun(
            student.run(
                "model_forward",
                n_hidden=13,
                state=state,
                x=x,
                hook_offset=hook_offset,
                grad_output=torch.ones(6, 1),
                activation_input=torch.zeros(1),
            ),
            state,
            x,
            hook_offset,
            torch.ones(6, 1),
            torch.zeros(1),
        )
        for hook_offset in (0.0, 1.5)
    ]
    outputs = [run.result["output"] for run in runs]
    assert outputs[0].shape == outputs[1].shape == (6, 1), "TemperatureNet's output must have shape [N, 1]"
    assert not _close(outputs[1], outputs[0]), (
        "TemperatureNet's forward hooks did not run: do not override __call__ — nn.Module.__call__ runs "
        "forward together with the hooks"
    )
    assert _close(outputs[1], outputs[0] + 1.5), (
        "TemperatureNet gives different outputs for the same weights and input: forward must not depend on "
        "anything but its input and parameters"
    )
    assert network_activation(runs[0]) is not None, not_confirmed("that the forward hooks run")


def _network_with_hooks(
    state: dict[str, Tensor], x: Tensor, activation: Any, offsets: dict[str, float], ran: set[str]
) -> Tensor:
    """The network's output when the forward hooks of the submodules in `ran` add their offsets."""

    def hooked(name: str, value: Tensor) -> Tensor:
        return value + offsets[name] if name in ran else value

    hidden = hooked("hidden_linear", x @ state["hidden_linear.weight"].T + state["hidden_linear.bias"])
    hidden = hooked("hidden_activation", activation(hidden))
    return hooked("output_linear", hidden @ state["output_linear.weight"].T + state["output_linear.bias"])


@pytest.mark.points(1, exercise="2.1")
def test_forward_calls_its_submodules(student: Student) -> None:
    """forward calls each registered submodule as a module, so its hooks run (not torch.tanh, not .forward())"""
    plain = _forward(student, 13, 6)
    activation = network_activation(plain)
    assert activation is not None, not_confirmed("that forward calls its submodules")
    # Distinct offsets, so the output shows which submodules' hooks ran.
    offsets = {
        name: float(torch.rand((), generator=_GENERATOR)) + 0.5 * (index + 1) for index, name in enumerate(CHILDREN)
    }
    result = student.run(
        "model_forward",
        n_hidden=13,
        state=plain.state,
        x=plain.x,
        hook_offset=0.0,
        grad_output=torch.ones(6, 1),
        activation_input=torch.zeros(1),
        child_offsets=offsets,
    )
    output = result["output"].reshape(-1, 1)
    # A hidden_activation that is not a registered module is the registration check's to charge.
    present = set(CHILDREN) if result["activation_output"] is not None else set(CHILDREN) - {"hidden_activation"}
    if _close(output, _network_with_hooks(plain.state, plain.x, activation, offsets, present)):
        return
    for size in range(len(present) - 1, -1, -1):
        for ran in itertools.combinations(sorted(present), size):
            if _close(output, _network_with_hooks(plain.state, plain.x, activation, offsets, set(ran))):
                skipped = sorted(present - set(ran))
                pytest.fail(
                    f"forward does not call {' and '.join(f'self.{name}' for name in skipped)} as a module: "
                    f"{'its' if len(skipped) == 1 else 'their'} forward hooks did not run. Call each registered "
                    "submodule itself (self.hidden_activation(h), not torch.tanh(h), and never .forward(h)), so "
                    "nn.Module.__call__ runs its hooks and replacing the submodule changes the model",
                    pytrace=False,
                )
    pytest.fail(
        "with a forward hook on each submodule, TemperatureNet's output is not the network's with each hook run "
        "once: call hidden_linear, hidden_activation and output_linear once each, in that order, as modules",
        pytrace=False,
    )


@pytest.mark.points(1, exercise="2.1")
def test_call_not_overridden(student: Student) -> None:
    """TemperatureNet does not override __call__"""
    structure = student.run("model_structure", n_hidden=None)
    assert not structure["overrides_call"], (
        "TemperatureNet overrides __call__: define forward only, and let nn.Module.__call__ run it with its hooks"
    )
    # The evidence: nn.Module.__call__ runs the forward hooks, so the hook's offset is in the output.
    run = _forward(student, 13, 6)
    activation = network_activation(run)
    assert activation is not None, not_confirmed("that nn.Module.__call__ runs forward")
    assert _close(run.result["output"], _network(run.state, run.x, activation) + run.hook_offset), (
        "TemperatureNet's forward hooks did not run, so nn.Module.__call__ did not call forward: do not override "
        "__call__, and call the model (model(x)), never model.forward(x)"
    )


@pytest.mark.points(3, exercise="2.1")
def test_gradients(student: Student) -> None:
    """Gradients reach every parameter of TemperatureNet and match torch's"""
    n_hidden, batch = 13, 8
    state = {name: tensor.requires_grad_(True) for name, tensor in _weights(n_hidden).items()}
    x = _randn(batch, 1, scale=2.0)
    grad_output = _randn(batch, 1)
    result = student.run(
        "model_forward",
        n_hidden=n_hidden,
        state={name: tensor.detach() for name, tensor in state.items()},
        x=x,
        hook_offset=0.0,
        grad_output=grad_output,
        activation_input=_randn(2, 2),
    )
    assert result["output"].shape == (batch, 1), "TemperatureNet's output must have shape [N, 1] to backpropagate"
    assert result["grads"], (
        "TemperatureNet's output does not require grad: it was cut out of autograd (.detach(), .item(), "
        "torch.no_grad() or numpy inside forward)"
    )
    _network(state, x, torch.tanh).backward(grad_output)
    for name, parameter in state.items():
        got = result["grads"].get(name)
        assert got is not None, f"no gradient reaches {name}: is that layer used in forward, and used through autograd?"
        assert _close(got, parameter.grad), (
            f"the gradient of {name} differs from torch's for output_linear(tanh(hidden_linear(x))): "
            f"is forward computing that network?"
        )


# Where a tanh built on e^x or e^(2x) overflows float32: the activations part's large inputs (its 1.1 check).
_LARGE_ACTIVATION_INPUTS = (1e4, 500.0, 89.0, 88.75, 88.7, 50.0, 44.4, 44.3)
_LARGE = 40.0


def _imports_own_activations(handin_source: HandinSource) -> bool:
    """Whether model.py imports the hand-in's activations module (read from the source, here)."""
    source = handin_source.sources.get("model")
    if not source or "activations" not in handin_source.sources:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "activations" and not node.level:
            return True
        if isinstance(node, ast.Import) and any(alias.name == "activations" for alias in node.names):
            return True
    return False


def _overflow_text(x: float) -> str:
    limit = math.log(torch.finfo(torch.float32).max)
    if abs(x) > limit:
        return f"e^|x| overflows float32 once |x| > {limit:.6g}"
    if abs(x) > limit / 2:
        return f"e^(2x) overflows float32 once |x| > {limit / 2:.6g}"
    return "an inf or nan appears on the way"


@pytest.mark.points(2, exercise="2.1")
def test_hidden_activation_is_tanh(student: Student, handin_source: HandinSource) -> None:
    """TemperatureNet's hidden_activation computes tanh, for any finite input"""
    large = torch.tensor(_LARGE_ACTIVATION_INPUTS)
    special = torch.cat([torch.tensor([0.0, -0.0, 1e-8, -1e-8]), large, -large])
    activation_input = torch.cat([_randn(24, scale=3.0), special]).reshape(4, -1)
    result = student.run(
        "model_forward",
        n_hidden=13,
        state=_weights(13),
        x=_randn(2, 1),
        hook_offset=0.0,
        grad_output=_randn(2, 1),
        activation_input=activation_input,
    )
    got, kind = result["activation_output"], result["activation_type"]
    if kind is None:
        pytest.fail(
            "TemperatureNet has no hidden_activation: assign the tanh module in __init__ "
            "(self.hidden_activation = nn.Tanh(), or your own nn.Module)",
            pytrace=False,
        )
    assert got is not None, (
        f"TemperatureNet.hidden_activation is a {kind}, not an nn.Module: use nn.Tanh() or your own module"
    )
    expected = torch.tanh(activation_input)
    assert got.shape == expected.shape, (
        f"TemperatureNet.hidden_activation returned shape {list(got.shape)} for an input of shape "
        f"{list(expected.shape)}: it must be elementwise"
    )
    wrong = ~torch.isclose(got, expected, rtol=_RTOL, atol=_ATOL)
    if bool(wrong.any()):
        # The wrong point of smallest |x|: the first threshold the formula passes.
        worst = int(torch.where(wrong.flatten(), activation_input.flatten().abs(), math.inf).argmin())
        at_value, value, right = (float(t.flatten()[worst]) for t in (activation_input, got, expected))
        at = str(np.float32(at_value))
        moderate = bool((wrong & (activation_input.abs() <= _LARGE)).any())
        assert not moderate, (
            f"TemperatureNet.hidden_activation does not compute tanh elementwise: at x = {at} it gives "
            f"{value:.9g}, tanh gives {right:.9g} (nn.Tanh(), or a module whose forward returns tanh(x))"
        )
        # Wrong only at large inputs. Built on the hand-in's own tanh, which gives the same there: its 1.1 checks
        # charge that mistake, once.
        own = None
        if _imports_own_activations(handin_source):
            try:
                own = student.run(
                    "value_and_grad", function="activations.tanh", x=activation_input, kwargs={}, grad_output=None
                )["value"]
            except StudentError:
                own = None
        same = own is not None and own.shape == got.shape and torch.allclose(own[wrong], got[wrong], equal_nan=True)
        assert same, (
            f"TemperatureNet.hidden_activation({at}) is {value}, but tanh({at}) is {right:.9g}: nn.Tanh is "
            f"right for every finite input, and {_overflow_text(at_value)} — compute it so that exp only sees "
            f"non-positive numbers (e = exp(-2m) with m = torch.where(x >= 0, x, -x))"
        )
    assert network_activation(_forward(student, 13, 5)) is not None, not_confirmed("a tanh hidden_activation")


# --- 2.2 count_parameters (8 points) ------------------------------------------------------------------------


# The layers the grader describes to the count_parameters probe, built here too to count them.
_LAYER_TYPES: dict[str, type[nn.Module]] = {
    "linear": nn.Linear,
    "conv1d": nn.Conv1d,
    "batchnorm1d": nn.BatchNorm1d,
    "tanh": nn.Tanh,
}

Layers = list[tuple[str, list[int]]]


def _model(layers: Layers, frozen: list[str], tied: list[tuple[str, str]]) -> nn.Module:
    """The model the probe builds from the same description (torch's layers, positional arguments, a last 0 of
    a linear: no bias), here in the grader's process."""
    model = nn.Sequential(*(_LAYER_TYPES[kind](*dims) for kind, dims in layers))
    for name, source in tied:
        owner, _, attribute = name.rpartition(".")
        setattr(model.get_submodule(owner), attribute, model.get_parameter(source))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    return model


def _counts(model: nn.Module) -> tuple[int, list[tuple[int, str]]]:
    """The right count, and what each classic mistake counts, with its hint."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    right = sum(p.numel() for p in trainable)
    mistakes = [
        (
            sum(p.numel() for p in model.parameters()),
            "count_parameters counts frozen parameters too: count only those with requires_grad",
        ),
        (
            sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight") and p.requires_grad),
            "count_parameters counts the weights only: biases are trainable parameters too",
        ),
        (len(trainable), "count_parameters counts parameter tensors: count their scalars with p.numel()"),
        (
            sum(t.numel() for t in model.state_dict().values()),
            "count_parameters counts state_dict() entries: the state holds buffers too (BatchNorm's running_mean, "
            "running_var and num_batches_tracked), frozen parameters, and a shared parameter under each of its names; "
            "count model.parameters() with requires_grad",
        ),
        (
            sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False) if p.requires_grad),
            "count_parameters counts a shared (tied) parameter once for each module that holds it: "
            "model.parameters() yields each parameter once",
        ),
    ]
    return right, [(count, hint) for count, hint in mistakes if count != right]


def check_count(
    student: Student, layers: Layers, frozen: list[str], described: str, tied: list[tuple[str, str]] | None = None
) -> None:
    try:
        result = student.run("count_parameters", layers=layers, frozen=frozen, tied=tied or [])
    except StudentError as error:
        pytest.fail(f"count_parameters({described}) failed: {error.message}", pytrace=False)
    count = result["count"]
    right, mistakes = _counts(_model(layers, frozen, tied or []))
    if count == right:
        return
    hints = {hint for wrong, hint in mistakes if wrong == count}
    # A hint only when one mistake alone explains the count.
    hint = hints.pop() if len(hints) == 1 else "count the scalars (p.numel()) of every parameter with requires_grad"
    pytest.fail(f"count_parameters({described}) is {count}, expected {right}: {hint}", pytrace=False)


@pytest.mark.points(1, exercise="2.2")
@pytest.mark.parametrize("n_hidden", [13, 6], ids=["n_hidden=13", "n_hidden=6"])
def test_count_temperature_net(student: Student, n_hidden: int) -> None:
    """count_parameters counts the chapter's 1 -> n_hidden -> 1 network"""
    layers = [("linear", [1, n_hidden]), ("tanh", []), ("linear", [n_hidden, 1])]
    check_count(student, layers, [], f"Linear(1, {n_hidden}) -> Tanh -> Linear({n_hidden}, 1)")


@pytest.mark.points(1.5, exercise="2.2")
def test_count_excludes_frozen(student: Student) -> None:
    """count_parameters leaves out frozen parameters"""
    width = int(torch.randint(3, 9, (), generator=_GENERATOR))
    layers = [("linear", [2, width]), ("tanh", []), ("linear", [width, 3])]
    check_count(student, layers, ["0.weight", "0.bias"], f"Linear(2, {width}) frozen -> Tanh -> Linear({width}, 3)")


@pytest.mark.points(1.5, exercise="2.2")
def test_count_includes_biases(student: Student) -> None:
    """count_parameters counts biases as well as weights"""
    width = int(torch.randint(3, 9, (), generator=_GENERATOR))
    layers = [("linear", [3, width]), ("tanh", []), ("linear", [width, 2, 0]), ("linear", [2, 4])]
    check_count(student, layers, [], f"Linear(3, {width}) -> Tanh -> Linear({width}, 2, bias=False) -> Linear(2, 4)")


def _width() -> int:
    return int(torch.randint(3, 9, (), generator=_GENERATOR))


def _any_module(case: str) -> tuple[Layers, list[str], list[tuple[str, str]], str]:
    """(layers, frozen, tied, description) of one of the models test_count_any_module tries."""
    width = _width()
    if case == "conv1d":
        kernel = int(torch.randint(2, 6, (), generator=_GENERATOR))
        layers: Layers = [("conv1d", [2, 3, kernel]), ("tanh", []), ("conv1d", [3, 1, 1])]
        return layers, ["2.bias"], [], f"Conv1d(2, 3, {kernel}) -> Tanh -> Conv1d(3, 1, 1) with a frozen bias"
    if case == "batchnorm":
        layers = [("linear", [3, width]), ("batchnorm1d", [width]), ("tanh", []), ("linear", [width, 1])]
        return layers, [], [], f"Linear(3, {width}) -> BatchNorm1d({width}) -> Tanh -> Linear({width}, 1)"
    if case == "tied":
        layers = [("linear", [width, width]), ("tanh", []), ("linear", [width, width])]
        # The first bias frozen too, so that no other mistake gives the same count as counting the shared weight twice.
        described = (
            f"Linear({width}, {width}) -> Tanh -> Linear({width}, {width}), the two weights one shared parameter, "
            "the first bias frozen"
        )
        return layers, ["0.bias"], [("2.weight", "0.weight")], described
    layers = [("linear", [2, width]), ("tanh", [])]
    return layers, ["0.weight", "0.bias"], [], f"Linear(2, {width}) frozen -> Tanh, nothing trainable"


@pytest.mark.points(0.5, exercise="2.2")
@pytest.mark.parametrize("case", ["conv1d", "batchnorm", "tied", "nothing-trainable"])
def test_count_any_module(student: Student, case: str) -> None:
    """count_parameters works for any module: convolutions, buffers, shared parameters, nothing trainable"""
    layers, frozen, tied, described = _any_module(case)
    check_count(student, layers, frozen, described, tied)


@pytest.mark.points(1, exercise="2.2")
def test_count_returns_int(student: Student) -> None:
    """count_parameters returns a Python int"""
    layers = [("linear", [1, 4]), ("tanh", []), ("linear", [4, 1])]
    result = student.run("count_parameters", layers=layers, frozen=[])
    # The reported type can only deny the point; the count itself is checked here, and its type as it arrived.
    returned = result["type"] if result["type"] != "int" else type(result["count"]).__name__
    assert returned == "int", (
        f"count_parameters returned a {returned}: return a Python int (sum of p.numel(), not a tensor or a float)"
    )
    expected = _counts(_model(layers, [], []))[0]
    assert result["count"] == expected, (
        f"count_parameters(Linear(1, 4) -> Tanh -> Linear(4, 1)) is {result['count']}, expected {expected}: "
        "the int must be the count of trainable scalars"
    )
