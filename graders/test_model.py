"""Hidden graders for Exercise 2, the custom nn.Module (part `model`, 30 points: 2.1 22, 2.2 8).

TemperatureNet is judged on what it computes with weights chosen here (`model_forward`): the output, the
gradients and the hidden activation are recomputed in this process with torch and compared. What the student's
process reports about the model (`model_structure`: its children, parameter shapes, whether it overrides
__call__) only denies points: each structural point also needs the model's output for the grader's weights,
loaded under the contract's names, to be what a network of those layers computes. count_parameters runs on
generic models the grader describes, so a broken TemperatureNet costs 2.1's points only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from coursekit.sandbox.student import Student

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
@pytest.mark.points(2.5, exercise="2.1")
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


@pytest.mark.points(2, exercise="2.1")
def test_hidden_activation_is_tanh(student: Student) -> None:
    """TemperatureNet's hidden_activation computes tanh"""
    activation_input = _randn(4, 6, scale=3.0)
    result = student.run(
        "model_forward",
        n_hidden=13,
        state=_weights(13),
        x=_randn(2, 1),
        hook_offset=0.0,
        grad_output=_randn(2, 1),
        activation_input=activation_input,
    )
    got = result["activation_output"]
    assert got is not None, "TemperatureNet.hidden_activation is not an nn.Module: use nn.Tanh() or your own module"
    assert _close(got, torch.tanh(activation_input)), (
        "TemperatureNet.hidden_activation does not compute tanh elementwise (nn.Tanh(), or a module whose "
        "forward returns tanh(x) with x's shape)"
    )
    assert network_activation(_forward(student, 13, 5)) is not None, not_confirmed("a tanh hidden_activation")


# --- 2.2 count_parameters (8 points) ------------------------------------------------------------------------


def _count(layers: list[tuple[str, list[int]]], frozen: list[str]) -> tuple[int, int, int, int]:
    """The right count and three classic wrong ones: (trainable, all, weights only, number of tensors)."""
    sizes: list[tuple[str, int]] = []
    for index, (kind, dims) in enumerate(layers):
        if kind == "linear":
            sizes.append((f"{index}.weight", dims[0] * dims[1]))
            if len(dims) < 3 or dims[2]:
                sizes.append((f"{index}.bias", dims[1]))
        elif kind == "conv1d":
            sizes += [(f"{index}.weight", dims[0] * dims[1] * dims[2]), (f"{index}.bias", dims[1])]
    trainable = sum(n for name, n in sizes if name not in frozen)
    return (
        trainable,
        sum(n for _, n in sizes),
        sum(n for name, n in sizes if name.endswith("weight") and name not in frozen),
        sum(1 for name, _ in sizes if name not in frozen),
    )


def check_count(student: Student, layers: list[tuple[str, list[int]]], frozen: list[str], described: str) -> None:
    result = student.run("count_parameters", layers=layers, frozen=frozen)
    count = result["count"]
    trainable, everything, weights_only, tensors = _count(layers, frozen)
    if count == trainable:
        return
    hint = "count the scalars (p.numel()) of every parameter with requires_grad"
    if count == everything:
        hint = "count_parameters counts frozen parameters too: count only those with requires_grad"
    elif count == weights_only:
        hint = "count_parameters counts the weights only: biases are trainable parameters too"
    elif count == tensors:
        hint = "count_parameters counts parameter tensors: count their scalars with p.numel()"
    pytest.fail(f"count_parameters({described}) is {count}, expected {trainable}: {hint}", pytrace=False)


@pytest.mark.points(1, exercise="2.2")
@pytest.mark.parametrize("n_hidden", [13, 6], ids=["n_hidden=13", "n_hidden=6"])
def test_count_temperature_net(student: Student, n_hidden: int) -> None:
    """count_parameters counts the chapter's 1 -> n_hidden -> 1 network"""
    layers = [("linear", [1, n_hidden]), ("tanh", []), ("linear", [n_hidden, 1])]
    check_count(student, layers, [], f"Linear(1, {n_hidden}) -> Tanh -> Linear({n_hidden}, 1)")


@pytest.mark.points(2, exercise="2.2")
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


@pytest.mark.points(1.5, exercise="2.2")
def test_count_any_layer(student: Student) -> None:
    """count_parameters works for any module, not only Linear layers"""
    kernel = int(torch.randint(2, 6, (), generator=_GENERATOR))
    layers = [("conv1d", [2, 3, kernel]), ("tanh", []), ("conv1d", [3, 1, 1])]
    check_count(student, layers, ["2.bias"], f"Conv1d(2, 3, {kernel}) -> Tanh -> Conv1d(3, 1, 1) with a frozen bias")


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
    expected = _count(layers, [])[0]
    assert result["count"] == expected, (
        f"count_parameters(Linear(1, 4) -> Tanh -> Linear(4, 1)) is {result['count']}, expected {expected}: "
        "the int must be the count of trainable scalars"
    )
