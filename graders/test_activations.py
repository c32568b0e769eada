"""Hidden graders for Exercise 1, the activation functions (part `activations`, 30 points, 5 per function).

Every check sends inputs chosen here to the student's function through the `value_and_grad_calls` probe and
judges the plain data that comes back against torch's own activation, computed in this process. Before an
activation's first check, the calls of all its checks go in one request (about ten round trips become one); a
check asks for any call not answered yet itself. Each call is answered as a request of its own would be, so the
verdicts are the same; but a call that hangs or ends the worker now costs the function's earlier checks too, as it
already cost every later check of the part. The inputs:
- random inputs at six scales, |x| <= 40, kept clear of kinks (there the finite-difference check runs too);
- special points, in every value and gradient check: 0, -0, the smallest subnormal and normal numbers, 1e-30,
  1e-8, 1e-4 (each signed), every kink and branch boundary (relu at 0, hardtanh at its bounds, softplus where
  beta * x == threshold) and the floats either side of it, and random floats of every magnitude; one of them
  again as a 0-d tensor;
- large inputs, in the large-input check only: the float32/float64 overflow edges of e^x and e^(2x) and +-1e4.
At a kink any value and gradient between the one-sided limits passes. The shape checks judge shape and dtype
only; a wrong value is the value checks' to charge.

"Built from elementary operations" is judged from the hand-in's source, read here (`handin_source`): which
names the function can reach. The operators the student's process says it ran can only deny that point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from coursekit.config import Course
from coursekit.grade.source_check import UNKNOWN_ROOT, HandinSource, Reference
from coursekit.sandbox.student import Student, StudentCrash, StudentError, StudentTimeout, failure_of

# A fresh stream per grading run: a hand-in cannot be tuned to fixed inputs.
# Reseeded before every test from course.yml's seed and the test's name (graders/conftest.py).
_GENERATOR = torch.Generator()

# Values may differ from torch by tolerance * max(1, |expected|): a few float32 ulps, or float64 round-off
# (tanh via (1 - e) / (1 + e) with e = exp(-2|x|) loses ~1e-7 absolute near 0 in float32).
_TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

# A step of 1e-6 in float64 keeps the central difference's error near 1e-10, far below the 1e-6 it must meet.
_FD_STEP = 1e-6
_FD_TOLERANCE = 1e-6

# Kinks and discontinuities stay at least this far from every random input.
_KINK_MARGIN = 1e-3

# One row per scale: tiny, moderate and saturating inputs in every random batch.
_SCALES = (0.01, 0.3, 1.0, 3.0, 10.0, 30.0)

# The value and gradient checks stay below the smallest overflow edge (e^(2x) overflows float32 at 44.36), so an
# overflow costs the large-input check alone.
_MODERATE = 40.0

# Small special points, each with both signs: where torch.abs, torch.sign and clamp pick one-sided gradients.
_SMALL = (1e-30, 1e-8, 1e-4)

# Random floats of every magnitude per value or gradient check (|x| <= _MODERATE).
_SPREAD = 24

# The large-input check: the overflow edges of e^x and e^(2x) (log(max float) = 88.72 in float32 and 709.78 in
# float64, half of it for e^(2x)), either side of each, and far beyond.
_LARGE = {
    torch.float32: (1e4, 500.0, 89.0, 88.75, 88.7, 50.0, 44.4, 44.3),
    torch.float64: (1e4, 750.0, 710.0, 709.75, 500.0, 355.0, 354.8, 89.0, 50.0),
}

# ATen operators behind torch's own activations (Tensor methods, torch.*, torch.special.*, nn.*, F.*).
_FORBIDDEN_OPS = {
    "tanh": "torch.tanh / Tensor.tanh / nn.Tanh",
    "sigmoid": "torch.sigmoid / Tensor.sigmoid / torch.special.expit / nn.Sigmoid",
    "relu": "torch.relu / F.relu / nn.ReLU",
    "leaky_relu": "F.leaky_relu / nn.LeakyReLU",
    "hardtanh": "F.hardtanh / F.relu6 / nn.Hardtanh",
    "softplus": "F.softplus / nn.Softplus",
    "elu": "F.elu",
    "celu": "F.celu",
    "selu": "F.selu",
    "gelu": "F.gelu",
    "silu": "F.silu",
    "mish": "F.mish",
    "log_sigmoid": "F.logsigmoid",
    "log_sigmoid_forward": "F.logsigmoid",
    "hardsigmoid": "F.hardsigmoid",
    "hardswish": "F.hardswish",
    "threshold": "F.threshold",
    "rrelu": "F.rrelu",
    "rrelu_with_noise": "F.rrelu",
    "prelu": "F.prelu",
    "_prelu_kernel": "F.prelu",
    "special_expit": "torch.special.expit",
    "logit": "torch.logit",
}


def _squash(name: str) -> str:
    return name.lower().replace("_", "")


# The same operators as names in the source, lower-cased without underscores: a torch name with such a part
# (torch.tanh, F.relu, torch.ops.aten.tanh.default, nn.LeakyReLU, torch._C._VariableFunctions.sigmoid), or an
# attribute of a value the check cannot name (x.tanh(), x.sigmoid_()), is torch's own activation.
_FORBIDDEN_NAMES = {_squash(op): op for op in _FORBIDDEN_OPS} | {
    "expit": "special_expit",
    "relu6": "hardtanh",  # F.relu6 / nn.ReLU6 run hardtanh
    "tanhshrink": "tanh",  # F.tanhshrink / nn.Tanhshrink run tanh
}
# Parts of torch that reach operators by name, register or compile code, or unpickle objects: past them the
# check cannot see which operations run.
_UNREADABLE_TORCH = (
    ("ops",),
    ("library",),
    ("jit",),
    ("compile",),
    ("fx",),
    ("export",),
    ("overrides",),
    ("utils", "cpp_extension"),
    ("hub",),
    ("package",),
    ("load",),
    ("serialization",),
)


@dataclasses.dataclass(frozen=True)
class Activation:
    """What the graders know about one contract function."""

    name: str
    torch_name: str
    reference: Callable[..., Tensor]
    kinks: Callable[[dict[str, Any]], list[float]]
    # How to compute it so that it stays finite (appended to a message naming where it did not).
    stable_hint: str
    # (mistaken formula, hint): a wrong result that matches one of these gets its hint.
    mistakes: Callable[[Tensor, dict[str, Any]], list[tuple[Tensor, str]]] = lambda _x, _kwargs: []
    elementary: str = "torch.exp, torch.where and arithmetic"
    # Whether the function is built on exp at all (then an overflow message quotes exp's thresholds).
    uses_exp: bool = True


def _softplus_mistakes(x: Tensor, kwargs: dict[str, Any]) -> list[tuple[Tensor, str]]:
    beta = float(kwargs.get("beta", 1.0))
    threshold = float(kwargs.get("threshold", 20.0))
    z = beta * x
    smooth = (z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))) / beta
    return [
        (smooth, "softplus ignores threshold: for beta*x > threshold torch returns x itself"),
        (F.softplus(x, 1.0, threshold), "softplus ignores beta: it is log(1 + e^(beta*x)) / beta"),
        (
            torch.where(z > threshold, x, smooth * beta),
            "softplus forgets to divide by beta: it is log(1 + e^(beta*x)) / beta",
        ),
        (
            torch.where(x > threshold, x, smooth),
            "softplus compares x with threshold: torch returns x where beta * x > threshold",
        ),
    ]


def _leaky_relu_mistakes(x: Tensor, kwargs: dict[str, Any]) -> list[tuple[Tensor, str]]:
    slope = float(kwargs.get("negative_slope", 0.01))
    return [
        (F.leaky_relu(x), "leaky_relu ignores negative_slope: it is x for x > 0, negative_slope * x elsewhere"),
        (
            torch.maximum(x, slope * x),
            "leaky_relu as max(x, negative_slope * x) is wrong for negative_slope > 1: choose by the sign of x",
        ),
    ]


def _hardtanh_mistakes(x: Tensor, kwargs: dict[str, Any]) -> list[tuple[Tensor, str]]:
    low, high = float(kwargs.get("min_val", -1.0)), float(kwargs.get("max_val", 1.0))
    return [
        (F.hardtanh(x), "hardtanh ignores min_val and max_val: it clips x to [min_val, max_val], not [-1, 1]"),
        (torch.clamp(x, min=low), "hardtanh ignores max_val: clip from above too"),
        (torch.clamp(x, max=high), "hardtanh ignores min_val: clip from below too"),
    ]


def _sigmoid_mistakes(x: Tensor, _kwargs: dict[str, Any]) -> list[tuple[Tensor, str]]:
    return [(torch.sigmoid(-x), "sigmoid has the sign of x flipped: it is 1 / (1 + e^-x)")]


def _tanh_mistakes(x: Tensor, _kwargs: dict[str, Any]) -> list[tuple[Tensor, str]]:
    return [
        (torch.sigmoid(2 * x), "tanh(x) = 2 * sigmoid(2x) - 1, not sigmoid(2x)"),
        (torch.tanh(x / 2), "tanh(x) uses e^(2x), not e^x"),
    ]


# At exactly 0, torch.abs and torch.sign have gradient 0 and clamp(x, min=0) passes 1: a formula built on them
# loses the gradient there, and only there.
_ZERO_HINT = (
    "at exactly 0, torch.abs and torch.sign have gradient 0 and torch.clamp(x, min=0) passes 1, so a formula "
    "built on |x|, sign(x) or clamp gets the gradient wrong at that one point: take the magnitude as "
    "torch.where(x >= 0, x, -x) and choose each branch with torch.where on x itself"
)

ACTIVATIONS = {
    "tanh": Activation(
        name="tanh",
        torch_name="torch.tanh",
        reference=torch.tanh,
        kinks=lambda _kwargs: [],
        stable_hint="rewrite it so exp only sees non-positive numbers: with m = torch.where(x >= 0, x, -x) and "
        "e = exp(-2m), t = (1 - e) / (1 + e), and tanh(x) = torch.where(x >= 0, t, -t)",
        mistakes=_tanh_mistakes,
    ),
    "sigmoid": Activation(
        name="sigmoid",
        torch_name="torch.sigmoid",
        reference=torch.sigmoid,
        kinks=lambda _kwargs: [],
        stable_hint="compute e = exp(-m) with m = torch.where(x >= 0, x, -x), and choose 1 / (1 + e) or "
        "e / (1 + e) with torch.where(x >= 0, ...) (torch.where differentiates both branches, so neither may "
        "overflow)",
        mistakes=_sigmoid_mistakes,
    ),
    "relu": Activation(
        name="relu",
        torch_name="torch.relu",
        reference=F.relu,
        kinks=lambda _kwargs: [0.0],
        stable_hint="relu needs no exp: compare with 0 and use torch.where or torch.clamp",
        elementary="torch.where, torch.clamp or a comparison",
        uses_exp=False,
    ),
    "leaky_relu": Activation(
        name="leaky_relu",
        torch_name="torch.nn.functional.leaky_relu",
        reference=F.leaky_relu,
        kinks=lambda _kwargs: [0.0],
        stable_hint="leaky_relu needs no exp: use torch.where(x > 0, x, negative_slope * x)",
        mistakes=_leaky_relu_mistakes,
        elementary="torch.where and arithmetic",
        uses_exp=False,
    ),
    "hardtanh": Activation(
        name="hardtanh",
        torch_name="torch.nn.functional.hardtanh",
        reference=F.hardtanh,
        kinks=lambda kwargs: [float(kwargs.get("min_val", -1.0)), float(kwargs.get("max_val", 1.0))],
        stable_hint="hardtanh needs no exp: clip x with torch.clamp or torch.where",
        mistakes=_hardtanh_mistakes,
        elementary="torch.clamp or torch.where",
        uses_exp=False,
    ),
    "softplus": Activation(
        name="softplus",
        torch_name="torch.nn.functional.softplus",
        reference=F.softplus,
        kinks=lambda kwargs: [float(kwargs.get("threshold", 20.0)) / float(kwargs.get("beta", 1.0))],
        stable_hint="with z = beta * x and m = torch.where(z >= 0, z, -z), log(1 + e^z) is "
        "torch.where(z >= 0, z, 0) + log1p(exp(-m)), so exp only sees non-positive numbers (torch.where "
        "differentiates both branches, so the branch you do not pick must stay finite too)",
        mistakes=_softplus_mistakes,
        elementary="torch.exp, torch.log1p, torch.where and arithmetic",
    ),
}


# --- inputs -------------------------------------------------------------------------------------------------


def _random_inputs(activation: Activation, kwargs: dict[str, Any], dtype: torch.dtype) -> Tensor:
    """A [6, 24] batch, one scale per row, within +-_MODERATE, kept _KINK_MARGIN away from the function's kinks."""
    scales = torch.tensor(_SCALES, dtype=torch.float64).unsqueeze(1)
    x = (torch.randn(len(_SCALES), 24, generator=_GENERATOR, dtype=torch.float64) * scales).clamp(-_MODERATE, _MODERATE)
    for kink in activation.kinks(kwargs):
        near = (x - kink).abs() < _KINK_MARGIN
        x = torch.where(near, kink + torch.where(x >= kink, 2.0, -2.0) * _KINK_MARGIN, x)
    return x.to(dtype)


def _neighbours(x: Tensor) -> tuple[Tensor, Tensor]:
    """The floats just below and just above each element, in x's dtype."""
    return torch.nextafter(x, torch.full_like(x, -math.inf)), torch.nextafter(x, torch.full_like(x, math.inf))


def _spread_points(dtype: torch.dtype) -> list[float]:
    """_SPREAD floats of random sign, log-uniform in magnitude from the smallest normal float to _MODERATE: every
    order of magnitude the dtype has, where the random rows cover only 1e-3 to 40."""
    low = math.log10(torch.finfo(dtype).smallest_normal)
    exponents = low + torch.rand(_SPREAD, generator=_GENERATOR, dtype=torch.float64) * (math.log10(_MODERATE) - low)
    signs = torch.where(torch.rand(_SPREAD, generator=_GENERATOR, dtype=torch.float64) < 0.5, -1.0, 1.0)
    return (signs * 10.0**exponents).tolist()


def _special_points(
    activation: Activation, kwargs: dict[str, Any], dtype: torch.dtype, *, kinks_only: bool = False
) -> Tensor:
    """0, -0, tiny numbers, each kink and the floats either side of it, and floats of every magnitude (1-d, dtype).

    `kinks_only`: the kinks and their neighbours alone (the keyword checks: where the keywords move a boundary).
    """
    finfo = torch.finfo(dtype)
    smallest_subnormal = float(torch.nextafter(torch.zeros((), dtype=dtype), torch.ones((), dtype=dtype)))
    small = [smallest_subnormal, finfo.smallest_normal, *_SMALL]
    points = [0.0, -0.0, *small, *(-value for value in small)]
    kinks: list[float] = []
    for kink in activation.kinks(kwargs):
        at = torch.tensor(kink, dtype=dtype)
        below, above = _neighbours(at)
        kinks += [float(at), float(below), float(above)]
    if kinks_only:
        return torch.tensor(kinks, dtype=dtype)
    points += kinks
    return torch.tensor(points + _spread_points(dtype), dtype=dtype)


def _is_kink(activation: Activation, kwargs: dict[str, Any], x: Tensor) -> Tensor:
    kinks = activation.kinks(kwargs)
    at_kink = torch.zeros(x.shape, dtype=torch.bool)
    for kink in kinks:
        at_kink |= x == torch.tensor(kink, dtype=x.dtype)
    return at_kink


def _scalar_from(points: Tensor) -> Tensor:
    """One of the special points, chosen by the seeded stream, as a 0-d tensor."""
    return points[int(torch.randint(0, points.numel(), (), generator=_GENERATOR))].clone()


def _dtype_text(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _x_text(x: float, dtype: torch.dtype) -> str:
    """The shortest text that reads back as this float in its dtype ("20.000002", not "20" for the next float)."""
    return str(np.float32(x)) if dtype == torch.float32 else repr(float(x))


def _numbers_text(got: float, expected: float) -> tuple[str, str]:
    """Both numbers with 8 significant digits, or two more than it takes to show that they differ (at most 17)."""
    digits = 8
    while digits < 17 and f"{got:.{digits}g}" == f"{expected:.{digits}g}":
        digits += 1
    digits = min(17, digits + 2) if digits > 8 else digits
    return f"{got:.{digits}g}", f"{expected:.{digits}g}"


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in kwargs.items())


def _call_text(activation: Activation, x: float, kwargs: dict[str, Any], dtype: torch.dtype) -> str:
    extra = f", {_kwargs_text(kwargs)}" if kwargs else ""
    return f"{activation.name}({_x_text(x, dtype)}{extra})"


def _overflow_text(activation: Activation, x: float, kwargs: dict[str, Any], dtype: torch.dtype) -> str:
    """Why a value or gradient is not finite at x, quoting only thresholds that x is past."""
    if not activation.uses_exp:
        return activation.stable_hint
    limit = math.log(torch.finfo(dtype).max)
    beta = float(kwargs.get("beta", 1.0)) if activation.name == "softplus" else 1.0
    exponent = "beta*x" if beta != 1.0 else "x"
    reach = abs(x) * beta
    if reach > limit:
        cause = f"e^|{exponent}| overflows {_dtype_text(dtype)} once |{exponent}| > {limit:.6g}"
    elif 2 * reach > limit:
        cause = f"e^(2{exponent}) overflows {_dtype_text(dtype)} once |{exponent}| > {limit / 2:.6g}"
    else:
        cause = "an inf or nan appears on the way (inf / inf, inf - inf or 0 * inf)"
    return f"{cause}: {activation.stable_hint}"


# --- probe calls: an activation's calls in one request ---------------------------------------------------


class Call(NamedTuple):
    """One call of the student's function: f(x, **kwargs), and its vector-Jacobian product with grad_output."""

    x: Tensor
    kwargs: dict[str, Any]
    grad_output: Tensor | None


Answer = dict[str, Any] | StudentError
CallKey = tuple[Any, ...]

# Every answer a hand-in gave, by what was asked (the same call in two checks is asked once): keyed by the student
# object, so each hand-in gets its own and nothing outlives its handle.
_ANSWERS: weakref.WeakKeyDictionary[Any, dict[CallKey, Answer]] = weakref.WeakKeyDictionary()


# The activations whose calls were asked for together, per student object.
_PLANNED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _tensor_key(tensor: Tensor) -> CallKey:
    return (str(tensor.dtype), tuple(tensor.shape), tensor.numpy().tobytes())


def _call_key(function: str, call: Call) -> CallKey:
    grad_output = None if call.grad_output is None else _tensor_key(call.grad_output)
    return (function, _tensor_key(call.x), repr(sorted(call.kwargs.items())), grad_output)


def _answers_of(student: Student) -> dict[CallKey, Answer]:
    try:
        return _ANSWERS.setdefault(student, {})
    except TypeError:  # a handle that cannot be weakly referenced is simply not cached
        return {}


def _fetch(student: Student, function: str, calls: list[Call], answers: dict[CallKey, Answer]) -> None:
    """Ask for `calls` in one `value_and_grad_calls` request and keep each answer (a failure as its StudentError).

    A batch answer that is not of its form (a hand-in that replaced the probes) is asked again one call per
    request, so each call's answer is judged on its own, as without the batch. A timeout or a crash ends the
    part's worker: it is raised, as the first call would have raised it."""
    try:
        batch: list[dict[str, Any]] | None = student.run(
            "value_and_grad_calls", function=function, calls=[call._asdict() for call in calls]
        )["answers"]
        if batch is not None and len(batch) != len(calls):
            batch = None
    except (StudentTimeout, StudentCrash):
        raise
    except StudentError:
        batch = None
    for at, call in enumerate(calls):
        key = _call_key(function, call)
        if batch is not None:
            answer = batch[at]
            answers[key] = failure_of(answer["failure"]) if "failure" in answer else answer
            continue
        try:
            answers[key] = student.run("value_and_grad", function=function, **call._asdict())
        except (StudentTimeout, StudentCrash):
            raise
        except StudentError as error:
            answers[key] = error


def _probe_all(student: Student, activation: Activation, calls: list[Call]) -> list[Answer]:
    """The student's answer to each call (or the StudentError it got): those fetched before for this student,
    the rest in one request."""
    function = f"activations.{activation.name}"
    answers = _answers_of(student)
    missing = {_call_key(function, call): call for call in calls}
    for key in answers.keys() & missing.keys():
        del missing[key]
    if missing:
        _fetch(student, function, list(missing.values()), answers)
    return [answers[_call_key(function, call)] for call in calls]


def _answer(answer: Answer) -> dict[str, Any]:
    """An answer as a check reads it: the student's failure raised where the check meets it."""
    if isinstance(answer, StudentError):
        raise answer
    return answer


class _Planned(Exception):
    """Raised by _Planner at a check's request, carrying the calls the check makes."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        super().__init__("planned")
        self.arguments = arguments


class _Planner:
    """A stand-in student that stops a check at its request: what the check would ask, without judging."""

    def run(self, probe: str, /, **arguments: Any) -> dict[str, Any]:
        raise _Planned(arguments)


def _planned_calls(item: pytest.Item, course: Course) -> list[Call]:
    """The calls `item`'s check makes, drawn as its own run draws them (its seed, from its node id)."""
    function = getattr(item, "function", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if function is None:
        return []
    _GENERATOR.manual_seed(course.seed_for(item.nodeid))
    arguments = {"student": _Planner(), "handin_source": None, **params}
    try:
        function(**{name: arguments[name] for name in inspect.signature(function).parameters})
    except _Planned as planned:
        return [Call(**call) for call in planned.arguments.get("calls", [])]
    except Exception:  # a check that cannot be planned simply asks for its own calls when it runs
        return []
    return []


def _activation_of(item: pytest.Item) -> Activation | None:
    name = getattr(getattr(item, "function", None), "__name__", "")
    return next((a for a in ACTIVATIONS.values() if name.startswith(f"test_{a.name}_")), None)


@pytest.fixture(autouse=True)
def _one_request_per_activation(request: pytest.FixtureRequest, student: Student, course: Course) -> None:
    """Before an activation's first check for this hand-in, ask every call its checks make in one request: about
    ten calls of small tensors each, where a round trip costs more than the student's function does."""
    activation = _activation_of(request.node)
    try:
        planned = _PLANNED.setdefault(student, set())
    except TypeError:  # a handle that cannot be weakly referenced: each check asks for its own calls
        return
    if activation is None or activation.name in planned:
        return
    planned.add(activation.name)
    state = _GENERATOR.get_state()
    try:
        calls = [
            call
            for item in request.session.items
            if item.module is request.module and _activation_of(item) is activation
            for call in _planned_calls(item, course)
        ]
    finally:
        _GENERATOR.set_state(state)
    if calls:
        with contextlib.suppress(StudentError):  # the check meets the same failure when it asks for itself
            _probe_all(student, activation, calls)


def _torch_value_and_grad(
    activation: Activation, x: Tensor, kwargs: dict[str, Any], grad_output: Tensor
) -> tuple[Tensor, Tensor]:
    leaf = x.clone().requires_grad_(True)
    value = activation.reference(leaf, **kwargs)
    (grad,) = torch.autograd.grad(value, leaf, grad_output)
    return value.detach(), grad


class Accepted(NamedTuple):
    """What torch accepts at each point: one number, or at a kink every number between the one-sided limits."""

    low: Tensor
    high: Tensor

    @property
    def exact(self) -> Tensor:
        return self.low


def _accepted(
    activation: Activation, x: Tensor, kwargs: dict[str, Any], grad_output: Tensor
) -> tuple[Accepted, Accepted]:
    """torch's value and gradient at x; at a kink, widened to torch's at the floats either side (any subgradient,
    and at softplus's branch boundary either branch's value)."""
    value, grad = _torch_value_and_grad(activation, x, kwargs, grad_output)
    kink = _is_kink(activation, kwargs, x)
    if not bool(kink.any()):
        return Accepted(value, value), Accepted(grad, grad)
    values, grads = [value], [grad]
    for side in _neighbours(x):
        side_value, side_grad = _torch_value_and_grad(activation, side, kwargs, grad_output)
        values.append(torch.where(kink, side_value, value))
        grads.append(torch.where(kink, side_grad, grad))
    stacked_values, stacked_grads = torch.stack(values), torch.stack(grads)
    return (
        Accepted(stacked_values.amin(0), stacked_values.amax(0)),
        Accepted(stacked_grads.amin(0), stacked_grads.amax(0)),
    )


# --- judging ------------------------------------------------------------------------------------------------


def _excess(got: Tensor, accepted: Accepted) -> Tensor:
    """How far each element lies outside what is accepted, relative to max(1, |accepted|); nan counts as inf."""
    got64, low, high = got.double().flatten(), accepted.low.double().flatten(), accepted.high.double().flatten()
    outside = torch.maximum(low - got64, got64 - high).clamp(min=0.0)
    error = outside / torch.maximum(low.abs(), high.abs()).clamp(min=1.0)
    return torch.where(torch.isnan(error) | torch.isnan(got64), torch.full_like(error, math.inf), error)


def _worst_outside(got: Tensor, accepted: Accepted, tolerance: float) -> int | None:
    """Flat index of the element furthest outside what is accepted (beyond tolerance), or None."""
    error = _excess(got, accepted)
    if error.numel() == 0 or bool((error <= tolerance).all()):
        return None
    return int(error.argmax())


def _smallest_non_finite(got: Tensor, x: Tensor) -> int:
    """Flat index of the non-finite element at the smallest |x|: the first threshold the formula passes."""
    non_finite = ~torch.isfinite(got.flatten())
    return int(torch.where(non_finite, x.double().flatten().abs(), math.inf).argmin())


def _worst_mismatch(got: Tensor, expected: Tensor, tolerance: float) -> int | None:
    return _worst_outside(got, Accepted(expected, expected), tolerance)


def _assert_same_layout(activation: Activation, value: Tensor, x: Tensor) -> None:
    assert value.shape == x.shape, (
        f"{activation.name} returned shape {list(value.shape)} for an input of shape {list(x.shape)}: an "
        f"elementwise function keeps the shape (no flattening, no broadcasting against a [1]-shaped constant)"
    )
    assert value.dtype == x.dtype, (
        f"{activation.name} returned {_dtype_text(value.dtype)} for a {_dtype_text(x.dtype)} input: keep x's dtype "
        f"(a .float(), a Python list, or a constant tensor made without dtype=x.dtype changes it — "
        f"torch.zeros_like(x) keeps it)"
    )


def _accepted_text(accepted: Accepted, index: int, got: float) -> tuple[str, str]:
    """(got, what torch gives) as text, the latter a range at a kink."""
    low, high = float(accepted.low.flatten()[index]), float(accepted.high.flatten()[index])
    if low == high:
        return _numbers_text(got, low)
    got_text, low_text = _numbers_text(got, low)
    return got_text, f"anything from {low_text} to {_numbers_text(got, high)[1]} (a kink: either side's limit)"


def _assert_values(
    activation: Activation, value: Tensor, x: Tensor, kwargs: dict[str, Any], accepted: Accepted | Tensor
) -> None:
    _assert_same_layout(activation, value, x)
    accepted = accepted if isinstance(accepted, Accepted) else Accepted(accepted, accepted)
    tolerance = _TOLERANCE[x.dtype]
    worst = _worst_outside(value, accepted, tolerance)
    if worst is None:
        return
    if not bool(torch.isfinite(value.flatten()[worst])):
        worst = _smallest_non_finite(value, x)
    at = float(x.flatten()[worst])
    got = float(value.flatten()[worst])
    call = _call_text(activation, at, kwargs, x.dtype) + (" for a 0-d x" if x.dim() == 0 else "")
    if not math.isfinite(got):
        pytest.fail(
            f"{call} is {got} in {_dtype_text(x.dtype)}: {_overflow_text(activation, at, kwargs, x.dtype)}",
            pytrace=False,
        )
    for mistaken, hint in activation.mistakes(x, kwargs):
        if _worst_mismatch(value, mistaken.to(x.dtype), tolerance) is None:
            pytest.fail(hint, pytrace=False)
    got_text, expected_text = _accepted_text(accepted, worst, got)
    pytest.fail(
        f"{call} is {got_text}, but {activation.torch_name} gives {expected_text} ({_dtype_text(x.dtype)})",
        pytrace=False,
    )


def _assert_gradient(
    activation: Activation,
    result: dict[str, Any],
    x: Tensor,
    kwargs: dict[str, Any],
    accepted: Accepted | Tensor,
    *,
    unit_grad_output: bool = False,
) -> None:
    grad = result["grad"]
    assert result["requires_grad"], (
        f"{activation.name}'s result does not require grad: it was computed outside autograd (.detach(), "
        f".item(), .tolist(), numpy or torch.no_grad()) — use tensor operations on x"
    )
    assert grad is not None, f"{activation.name}'s result does not depend on x through autograd"
    accepted = accepted if isinstance(accepted, Accepted) else Accepted(accepted, accepted)
    worst = _worst_outside(grad, accepted, _TOLERANCE[x.dtype])
    if worst is None:
        return
    if not bool(torch.isfinite(grad.flatten()[worst])):
        worst = _smallest_non_finite(grad, x)
    at = float(x.flatten()[worst])
    got = float(grad.flatten()[worst])
    where = f"at x = {_x_text(at, x.dtype)}" + (f" ({_kwargs_text(kwargs)})" if kwargs else "")
    where += " for a 0-d x" if x.dim() == 0 else ""
    if not math.isfinite(got):
        pytest.fail(
            f"{activation.name}'s gradient is {got} {where}: {_overflow_text(activation, at, kwargs, x.dtype)}",
            pytrace=False,
        )
    got_text, expected_text = _accepted_text(accepted, worst, got)
    message = (
        f"{activation.name}'s gradient {where} is {got_text}"
        f"{'' if unit_grad_output else ' (times a random grad_output)'}, but "
        f"{activation.torch_name}'s is {expected_text}"
    )
    # Named only on evidence: the gradient is wrong at +-0 and right at every other point of this call.
    wrong = (_excess(grad, accepted) > _TOLERANCE[x.dtype]).reshape(x.shape)
    if bool(((x == 0) | ~wrong).all()) and activation.uses_exp:
        message += f" — {_ZERO_HINT}"
    pytest.fail(message, pytrace=False)


def _special_point_calls(
    activation: Activation, kwargs: dict[str, Any], dtype: torch.dtype, *, gradients: bool, kinks_only: bool = False
) -> list[Call]:
    """The special points as a batch and one of them again as a 0-d tensor (none when there are no points)."""
    points = _special_points(activation, kwargs, dtype, kinks_only=kinks_only)
    if points.numel() == 0:
        return []
    return [Call(x, kwargs, torch.ones_like(x) if gradients else None) for x in (points, _scalar_from(points))]


def _judge_special_points(
    activation: Activation, calls: list[Call], answers: list[Answer], *, values: bool, gradients: bool
) -> None:
    """Value and/or gradient at the special points (the calls of _special_point_calls)."""
    for (x, kwargs, _), answer in zip(calls, answers, strict=True):
        result = _answer(answer)
        value, grad = _accepted(activation, x, kwargs, torch.ones_like(x))
        if values:
            _assert_values(activation, result["value"], x, kwargs, value)
        else:
            _assert_same_layout(activation, result["value"], x)
        if gradients:
            _assert_gradient(activation, result, x, kwargs, grad, unit_grad_output=True)


def check_value(student: Student, activation: Activation, kwargs: dict[str, Any], dtype: torch.dtype) -> None:
    x = _random_inputs(activation, kwargs, dtype)
    special = _special_point_calls(activation, kwargs, dtype, gradients=False)
    first, *rest = _probe_all(student, activation, [Call(x, kwargs, None), *special])
    _assert_values(activation, _answer(first)["value"], x, kwargs, activation.reference(x, **kwargs))
    _judge_special_points(activation, special, rest, values=True, gradients=False)


def check_value_and_gradient(
    student: Student, activation: Activation, kwargs: dict[str, Any], dtype: torch.dtype
) -> None:
    x = _random_inputs(activation, kwargs, dtype)
    grad_output = torch.randn(x.shape, generator=_GENERATOR, dtype=torch.float64).to(dtype)
    special = _special_point_calls(activation, kwargs, dtype, gradients=True, kinks_only=True)
    first, *rest = _probe_all(student, activation, [Call(x, kwargs, grad_output), *special])
    result = _answer(first)
    value, grad = _torch_value_and_grad(activation, x, kwargs, grad_output)
    _assert_values(activation, result["value"], x, kwargs, value)
    _assert_gradient(activation, result, x, kwargs, grad)
    _judge_special_points(activation, special, rest, values=True, gradients=True)


def check_gradient(student: Student, activation: Activation, dtype: torch.dtype) -> None:
    """The vector-Jacobian product against torch's; in float64 also against finite differences of the values;
    then the gradient at the special points.

    One probe call for the random points: rows 0..5 are the points, rows 6..11 and 12..17 the same points moved
    by +h and -h.
    """
    x0 = _random_inputs(activation, {}, dtype)
    x = torch.cat([x0, x0 + _FD_STEP, x0 - _FD_STEP]) if dtype == torch.float64 else x0
    grad_output = torch.randn(x.shape, generator=_GENERATOR, dtype=torch.float64).to(dtype)
    special = _special_point_calls(activation, {}, dtype, gradients=True)
    first, *rest = _probe_all(student, activation, [Call(x, {}, grad_output), *special])
    result = _answer(first)
    _assert_same_layout(activation, result["value"], x)
    _, expected = _torch_value_and_grad(activation, x, {}, grad_output)
    _assert_gradient(activation, result, x, {}, expected)
    if dtype == torch.float64:
        rows = x0.shape[0]
        value = result["value"]
        finite_difference = (value[rows : 2 * rows] - value[2 * rows :]) / (2 * _FD_STEP)
        claimed = result["grad"][:rows]
        expected_product = grad_output[:rows] * finite_difference
        scale = (1.0 + value[:rows].abs()) * (1.0 + grad_output[:rows].abs())
        excess = (claimed - expected_product).abs() / scale
        worst = int(excess.flatten().argmax())
        assert bool((excess <= _FD_TOLERANCE).all()), (
            f"{activation.name}'s gradient at x = {float(x0.flatten()[worst]):.17g} disagrees with its own values "
            f"(finite differences give {float(finite_difference.flatten()[worst]):.8g}): does a custom backward, a "
            f".detach() or a .data cut part of the computation out of autograd?"
        )
    _judge_special_points(activation, special, rest, values=False, gradients=True)


def check_large_inputs(student: Student, activation: Activation, dtype: torch.dtype) -> None:
    magnitudes = torch.tensor(_LARGE[dtype], dtype=torch.float64)
    x = torch.cat([magnitudes, -magnitudes]).to(dtype)
    grad_output = torch.rand(x.shape, generator=_GENERATOR, dtype=torch.float64).to(dtype) + 0.5
    (answer,) = _probe_all(student, activation, [Call(x, {}, grad_output)])
    result = _answer(answer)
    value, grad = _torch_value_and_grad(activation, x, {}, grad_output)
    _assert_values(activation, result["value"], x, {}, value)
    _assert_gradient(activation, result, x, {}, grad)


# The evidence a shape check needs that the function computes the activation at all: ordinary inputs, and a
# tolerance loose enough that a precision slip (float32 arithmetic inside a float64 call) is the value check's.
_ORDINARY = (-2.5, -0.7, 0.3, 1.2, 2.5)
_LOOSE_TOLERANCE = 1e-3


def check_shape(student: Student, activation: Activation, case: str) -> None:
    """Shape and dtype of a 0-d input (one of the special points, float64) or an empty one (float32).

    What the value is at that point is the value checks' to judge; this check only needs evidence that the
    function computes the activation on ordinary inputs, to a loose tolerance.
    """
    if case == "0-d":
        x = _scalar_from(
            torch.cat([_special_points(activation, {}, torch.float64), torch.tensor(_LARGE[torch.float64])])
        )
    else:
        x = torch.empty(0, 3, dtype=torch.float32)
    ordinary = torch.tensor(_ORDINARY, dtype=x.dtype)
    answer, ordinary_answer = _probe_all(student, activation, [Call(x, {}, None), Call(ordinary, {}, None)])
    _assert_same_layout(activation, _answer(answer)["value"], x)
    evidence = _answer(ordinary_answer)["value"]
    expected = activation.reference(ordinary)
    close = evidence.shape == ordinary.shape and _worst_mismatch(evidence, expected, _LOOSE_TOLERANCE) is None
    assert close, (
        f"{activation.name} keeps the shape and dtype here, but this point counts only for a function that "
        f"computes {activation.name}, and its values for ordinary inputs differ from {activation.torch_name}'s "
        f"(the failed value check '{activation.name} matches {activation.torch_name} in value' says where)"
    )


def _torch_activation(reference: Reference) -> str | None:
    """The ATen operator this name can be (a key of _FORBIDDEN_OPS), or None."""
    if reference.parts[0] not in ("torch", UNKNOWN_ROOT):
        return None
    for part in reference.parts[1:]:
        if _squash(part) in _FORBIDDEN_NAMES:
            return _FORBIDDEN_NAMES[_squash(part)]
    return None


def _shown(reference: Reference) -> str:
    if reference.parts[0] == UNKNOWN_ROOT:
        attribute = reference.parts[-1]
        return f".{attribute} of a value (a tensor's .{attribute} is Tensor.{attribute})"
    return reference.name


def _unreadable(reference: Reference) -> bool:
    parts = reference.parts
    return parts[0] == "torch" and any(parts[1 : 1 + len(entry)] == entry for entry in _UNREADABLE_TORCH)


def check_elementary(student: Student, handin_source: HandinSource, activation: Activation) -> None:
    """The value comes from the student's process; which operations the function can use, from its source here."""
    x = _random_inputs(activation, {}, torch.float32)
    (answer,) = _probe_all(student, activation, [Call(x, {}, None)])
    result = _answer(answer)
    # Only a function that computes the activation earns the point for how it computes it.
    _assert_values(activation, result["value"], x, {}, activation.reference(x))
    reach = handin_source.reach("activations", activation.name)
    for reference in reach.references:
        base = _torch_activation(reference)
        if base is not None:
            pytest.fail(
                f"{activation.name} uses torch's own {base}: {handin_source.where(reference.module, reference.line)} "
                f"refers to {_shown(reference)}; build it from {activation.elementary}",
                pytrace=False,
            )
    unreadable = [(u.module, u.line, u.reason) for u in reach.unverifiable] + [
        (r.module, r.line, f"uses {r.name}, past which the check cannot see which operations run")
        for r in (*reach.references, *reach.on_import)
        if _unreadable(r)
    ]
    if unreadable:
        module, line, reason = unreadable[0]
        pytest.fail(
            f"could not verify that {activation.name} is built from elementary operations: "
            f"{handin_source.where(module, line)} {reason}. This is not an accusation: the check reads your code "
            f"to see which operations it uses, and it cannot follow this. Write the operations out (torch.exp(x), "
            f"not getattr(torch, name)(x)) to earn this point.",
            pytrace=False,
        )
    # What the student's process reports it ran can only deny the point, never earn it.
    for op in result["ops"]:
        base = str(op).removeprefix("aten::").rstrip("_")
        if base in _FORBIDDEN_OPS:
            pytest.fail(
                f"{activation.name} runs torch's own {base} (did you call {_FORBIDDEN_OPS[base]}?): build it "
                f"from {activation.elementary}",
                pytrace=False,
            )


DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]
SHAPES = ["0-d", "empty"]


# --- 1.1 tanh (5 points) ------------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.1")
@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_value(student: Student, dtype: torch.dtype) -> None:
    """tanh matches torch.tanh in value"""
    check_value(student, ACTIVATIONS["tanh"], {}, dtype)


@pytest.mark.points(0.5, exercise="1.1")
@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_gradient(student: Student, dtype: torch.dtype) -> None:
    """tanh's gradient matches torch.tanh's"""
    check_gradient(student, ACTIVATIONS["tanh"], dtype)


@pytest.mark.points(0.75, exercise="1.1")
@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """tanh is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["tanh"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.1")
@pytest.mark.parametrize("case", SHAPES)
def test_tanh_shape(student: Student, case: str) -> None:
    """tanh keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["tanh"], case)


@pytest.mark.points(1, exercise="1.1")
def test_tanh_elementary(student: Student, handin_source: HandinSource) -> None:
    """tanh is built from elementary operations, not torch's own tanh"""
    check_elementary(student, handin_source, ACTIVATIONS["tanh"])


# --- 1.2 sigmoid (5 points) ---------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.2")
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_value(student: Student, dtype: torch.dtype) -> None:
    """sigmoid matches torch.sigmoid in value"""
    check_value(student, ACTIVATIONS["sigmoid"], {}, dtype)


@pytest.mark.points(0.5, exercise="1.2")
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_gradient(student: Student, dtype: torch.dtype) -> None:
    """sigmoid's gradient matches torch.sigmoid's"""
    check_gradient(student, ACTIVATIONS["sigmoid"], dtype)


@pytest.mark.points(0.75, exercise="1.2")
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """sigmoid is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["sigmoid"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.2")
@pytest.mark.parametrize("case", SHAPES)
def test_sigmoid_shape(student: Student, case: str) -> None:
    """sigmoid keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["sigmoid"], case)


@pytest.mark.points(1, exercise="1.2")
def test_sigmoid_elementary(student: Student, handin_source: HandinSource) -> None:
    """sigmoid is built from elementary operations, not torch's own sigmoid"""
    check_elementary(student, handin_source, ACTIVATIONS["sigmoid"])


# --- 1.3 relu (5 points) ------------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.75, exercise="1.3")
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_value(student: Student, dtype: torch.dtype) -> None:
    """relu matches torch.relu in value"""
    check_value(student, ACTIVATIONS["relu"], {}, dtype)


@pytest.mark.points(0.5, exercise="1.3")
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_gradient(student: Student, dtype: torch.dtype) -> None:
    """relu's gradient matches torch.relu's (at 0, any subgradient)"""
    check_gradient(student, ACTIVATIONS["relu"], dtype)


@pytest.mark.points(0.5, exercise="1.3")
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """relu is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["relu"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.3")
@pytest.mark.parametrize("case", SHAPES)
def test_relu_shape(student: Student, case: str) -> None:
    """relu keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["relu"], case)


@pytest.mark.points(1, exercise="1.3")
def test_relu_elementary(student: Student, handin_source: HandinSource) -> None:
    """relu is built from elementary operations, not torch's own relu"""
    check_elementary(student, handin_source, ACTIVATIONS["relu"])


# --- 1.4 leaky_relu (5 points) ------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.4")
@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_value(student: Student, dtype: torch.dtype) -> None:
    """leaky_relu matches torch.nn.functional.leaky_relu in value"""
    check_value(student, ACTIVATIONS["leaky_relu"], {}, dtype)


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.4")
@pytest.mark.parametrize(
    ("kwargs", "dtype"),
    [
        pytest.param({"negative_slope": 0.2}, torch.float32, id="negative_slope=0.2-float32"),
        pytest.param({"negative_slope": 1.5}, torch.float64, id="negative_slope=1.5-float64"),
    ],
)
def test_leaky_relu_negative_slope(student: Student, kwargs: dict[str, Any], dtype: torch.dtype) -> None:
    """leaky_relu honours negative_slope (value and gradient)"""
    check_value_and_gradient(student, ACTIVATIONS["leaky_relu"], kwargs, dtype)


@pytest.mark.points(0.5, exercise="1.4")
@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_gradient(student: Student, dtype: torch.dtype) -> None:
    """leaky_relu's gradient matches torch's (at 0, any subgradient)"""
    check_gradient(student, ACTIVATIONS["leaky_relu"], dtype)


@pytest.mark.points(0.25, exercise="1.4")
@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """leaky_relu is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["leaky_relu"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.4")
@pytest.mark.parametrize("case", SHAPES)
def test_leaky_relu_shape(student: Student, case: str) -> None:
    """leaky_relu keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["leaky_relu"], case)


@pytest.mark.points(1, exercise="1.4")
def test_leaky_relu_elementary(student: Student, handin_source: HandinSource) -> None:
    """leaky_relu is built from elementary operations, not torch's own leaky_relu"""
    check_elementary(student, handin_source, ACTIVATIONS["leaky_relu"])


# --- 1.5 hardtanh (5 points) --------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.5")
@pytest.mark.parametrize("dtype", DTYPES)
def test_hardtanh_value(student: Student, dtype: torch.dtype) -> None:
    """hardtanh matches torch.nn.functional.hardtanh in value"""
    check_value(student, ACTIVATIONS["hardtanh"], {}, dtype)


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.5")
@pytest.mark.parametrize(
    ("kwargs", "dtype"),
    [
        pytest.param({"min_val": -2.0, "max_val": 3.0}, torch.float64, id="min_val=-2-max_val=3-float64"),
        pytest.param({"min_val": 0.0, "max_val": 0.5}, torch.float32, id="min_val=0-max_val=0.5-float32"),
    ],
)
def test_hardtanh_bounds(student: Student, kwargs: dict[str, Any], dtype: torch.dtype) -> None:
    """hardtanh honours min_val and max_val (value and gradient)"""
    check_value_and_gradient(student, ACTIVATIONS["hardtanh"], kwargs, dtype)


@pytest.mark.points(0.5, exercise="1.5")
@pytest.mark.parametrize("dtype", DTYPES)
def test_hardtanh_gradient(student: Student, dtype: torch.dtype) -> None:
    """hardtanh's gradient matches torch's (at the bounds, any subgradient)"""
    check_gradient(student, ACTIVATIONS["hardtanh"], dtype)


@pytest.mark.points(0.25, exercise="1.5")
@pytest.mark.parametrize("dtype", DTYPES)
def test_hardtanh_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """hardtanh is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["hardtanh"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.5")
@pytest.mark.parametrize("case", SHAPES)
def test_hardtanh_shape(student: Student, case: str) -> None:
    """hardtanh keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["hardtanh"], case)


@pytest.mark.points(1, exercise="1.5")
def test_hardtanh_elementary(student: Student, handin_source: HandinSource) -> None:
    """hardtanh is built from elementary operations, not torch's own hardtanh"""
    check_elementary(student, handin_source, ACTIVATIONS["hardtanh"])


# --- 1.6 softplus (5 points) --------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(0.5, exercise="1.6")
@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_value(student: Student, dtype: torch.dtype) -> None:
    """softplus matches torch.nn.functional.softplus in value"""
    check_value(student, ACTIVATIONS["softplus"], {}, dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.6")
@pytest.mark.parametrize(
    ("kwargs", "dtype"),
    [
        pytest.param({"beta": 0.5}, torch.float64, id="beta=0.5-float64"),
        pytest.param({"beta": 2.0}, torch.float32, id="beta=2-float32"),
        pytest.param({"threshold": 1.0}, torch.float64, id="threshold=1-float64"),
        pytest.param({"beta": 2.0, "threshold": 5.0}, torch.float32, id="beta=2-threshold=5-float32"),
    ],
)
def test_softplus_keywords(student: Student, kwargs: dict[str, Any], dtype: torch.dtype) -> None:
    """softplus honours beta and threshold (value and gradient)"""
    check_value_and_gradient(student, ACTIVATIONS["softplus"], kwargs, dtype)


@pytest.mark.points(0.5, exercise="1.6")
@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_gradient(student: Student, dtype: torch.dtype) -> None:
    """softplus's gradient matches torch's"""
    check_gradient(student, ACTIVATIONS["softplus"], dtype)


@pytest.mark.points(0.25, exercise="1.6")
@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_large_inputs(student: Student, dtype: torch.dtype) -> None:
    """softplus is finite and correct for large |x| (value and gradient)"""
    check_large_inputs(student, ACTIVATIONS["softplus"], dtype)


@pytest.mark.public
@pytest.mark.points(0.25, exercise="1.6")
@pytest.mark.parametrize("case", SHAPES)
def test_softplus_shape(student: Student, case: str) -> None:
    """softplus keeps the shape and dtype of 0-d and empty tensors"""
    check_shape(student, ACTIVATIONS["softplus"], case)


@pytest.mark.points(1, exercise="1.6")
def test_softplus_elementary(student: Student, handin_source: HandinSource) -> None:
    """softplus is built from elementary operations, not torch's own softplus"""
    check_elementary(student, handin_source, ACTIVATIONS["softplus"])
