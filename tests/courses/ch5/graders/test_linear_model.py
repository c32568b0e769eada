"""Hidden graders for Exercise 1, the linear model and its loss (part `linear`, 40 points: 1.1 20, 1.2 20).

Each check sends inputs drawn here to the student's function (`call_with_grads`) and compares the value and the
gradients that come back with torch's own computation in this process.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from coursekit.sandbox.student import Student

# Reseeded before every test from course.yml's seed and the test's name (graders/conftest.py).
_GENERATOR = torch.Generator()
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def _randn(*shape: int, dtype: torch.dtype = torch.float32, scale: float = 1.0) -> Tensor:
    return (torch.randn(shape, generator=_GENERATOR, dtype=torch.float64) * scale).to(dtype)


def _close(got: Tensor | None, expected: Tensor) -> bool:
    """Same shape, same dtype, the same values within a few ulps of the dtype."""
    if got is None or got.shape != expected.shape or got.dtype != expected.dtype:
        return False
    tolerance = 1e-5 if expected.dtype == torch.float32 else 1e-12
    return torch.allclose(got, expected, rtol=tolerance, atol=tolerance)


def _run(student: Student, function: str, args: list[Tensor], differentiate: list[bool]) -> dict[str, Any]:
    """The student's function on `args`, and the gradients of <value, grad_output> for the marked ones."""
    inputs = [arg.detach() for arg in args]
    reference = _reference(function, inputs, differentiate)
    answer = student.run(
        "call_with_grads",
        function=function,
        args=inputs,
        differentiate=differentiate,
        grad_output=reference["grad_output"],
    )
    return {"answer": answer, **reference}


def _reference(function: str, args: list[Tensor], differentiate: list[bool]) -> dict[str, Any]:
    """torch's value and vector-Jacobian product for the contract's definition, with a random grad_output."""
    inputs = [arg.clone().requires_grad_(flag) for arg, flag in zip(args, differentiate, strict=True)]
    if function == "linear_model.model":
        t_u, w, b = inputs
        value = w * t_u + b
    else:
        t_p, t_c = inputs
        value = torch.nn.functional.mse_loss(t_p, t_c)
    grad_output = _randn(*value.shape, dtype=value.dtype)
    wanted = [x for x in inputs if x.requires_grad]
    found = iter(torch.autograd.grad(value, wanted, grad_output) if wanted else ())
    grads = [next(found) if x.requires_grad else None for x in inputs]
    return {"value": value.detach(), "grads": grads, "grad_output": grad_output}


def _describe(got: Tensor) -> str:
    """What came back, for a hint: one number by its value, a tensor by its shape and dtype."""
    if got.numel() == 1:
        return f"{got.item():.6g} (shape {list(got.shape)}, {got.dtype})"
    return f"shape {list(got.shape)}, {got.dtype}"


# --- 1.1 model ---------------------------------------------------------------------------------------------


def _model_hint(got: Tensor, t_u: Tensor, w: Tensor, b: Tensor) -> str:
    if got.shape == t_u.shape and got.dtype == t_u.dtype:
        if _close(got, w * t_u):
            return ": did you forget the bias b?"
        if _close(got, b * t_u + w):
            return ": are w and b swapped? t_p = w * t_u + b"
    return ""


@pytest.mark.public
@pytest.mark.points(4, exercise="1.1")
@pytest.mark.parametrize("dtype", DTYPES)
def test_model_value(student: Student, dtype: torch.dtype) -> None:
    """model(t_u, w, b) is w * t_u + b, in t_u's dtype"""
    t_u, w, b = _randn(11, dtype=dtype, scale=5.0), _randn(dtype=dtype), _randn(dtype=dtype)
    run = _run(student, "linear_model.model", [t_u, w, b], [False, False, False])
    got = run["answer"]["value"]
    assert _close(got, run["value"]), (
        f"model(t_u, w, b) for t_u of shape [11] ({dtype}) should equal w * t_u + b with that shape and dtype, "
        f"got {_describe(got)}{_model_hint(got, t_u, w, b)}"
    )


@pytest.mark.points(4, exercise="1.1")
@pytest.mark.parametrize("shape", [pytest.param((4, 3), id="4x3"), pytest.param((), id="0-d")])
def test_model_any_shape(student: Student, shape: tuple[int, ...]) -> None:
    """model works elementwise on readings of any shape"""
    t_u, w, b = _randn(*shape, scale=5.0), _randn(), _randn()
    run = _run(student, "linear_model.model", [t_u, w, b], [False, False, False])
    got = run["answer"]["value"]
    assert _close(got, run["value"]), (
        f"model(t_u, w, b) for t_u of shape {list(shape)} should be w * t_u + b elementwise, with t_u's shape, "
        f"got {_describe(got)}{_model_hint(got, t_u, w, b)}"
    )


@pytest.mark.points(4, exercise="1.1")
def test_model_gradients(student: Student) -> None:
    """the gradients of model reach w and b as torch computes them"""
    t_u, w, b = _randn(11, scale=5.0), _randn(), _randn()
    run = _run(student, "linear_model.model", [t_u, w, b], [False, True, True])
    answer = run["answer"]
    assert answer["requires_grad"], (
        "model(t_u, w, b) for w and b that require grad returned a tensor that does not: is the result detached "
        "(.detach(), .item(), torch.tensor(...) or numpy) from w and b?"
    )
    _, grad_w, grad_b = answer["grads"]
    _, expected_w, expected_b = run["grads"]
    assert _close(grad_w, expected_w) and _close(grad_b, expected_b), (
        "the gradients of model(t_u, w, b) with respect to w and b differ from those of w * t_u + b"
    )


# --- 1.2 loss_fn --------------------------------------------------------------------------------------------


def _loss_hint(got: Tensor, t_p: Tensor, t_c: Tensor) -> str:
    diffs = t_p - t_c
    if got.numel() == 1:
        value = got.reshape(())
        hints = (
            (diffs.square().sum(), ": did you sum the squares instead of averaging them?"),
            (diffs.abs().mean(), ": the mean absolute difference: square the differences instead"),
            (diffs.square().mean().sqrt(), ": the square root of the mean (RMSE): leave the mean as it is"),
            (diffs.mean().square(), ": the square of the mean difference: square each difference, then average"),
        )
        for candidate, hint in hints:
            if torch.allclose(value.to(candidate.dtype), candidate, rtol=1e-5, atol=1e-6):
                return hint
    if got.shape == t_p.shape:
        return ": one value per element: average the squared differences into one number"
    return ""


@pytest.mark.public
@pytest.mark.points(4, exercise="1.2")
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_value(student: Student, dtype: torch.dtype) -> None:
    """loss_fn(t_p, t_c) is the mean squared error, a 0-d tensor"""
    t_p, t_c = _randn(11, dtype=dtype, scale=10.0), _randn(11, dtype=dtype, scale=10.0)
    run = _run(student, "linear_model.loss_fn", [t_p, t_c], [False, False])
    got = run["answer"]["value"]
    assert _close(got, run["value"]), (
        f"loss_fn(t_p, t_c) for 11 values ({dtype}) should be the mean of (t_p - t_c) ** 2, a 0-d tensor of "
        f"that dtype, got {_describe(got)}{_loss_hint(got, t_p, t_c)}"
    )


@pytest.mark.points(4, exercise="1.2")
@pytest.mark.parametrize("shape", [pytest.param((4, 3), id="4x3"), pytest.param((200,), id="200")])
def test_loss_averages_every_element(student: Student, shape: tuple[int, ...]) -> None:
    """loss_fn averages over every element, whatever the shape and the number of measurements"""
    t_p, t_c = _randn(*shape, scale=10.0), _randn(*shape, scale=10.0)
    run = _run(student, "linear_model.loss_fn", [t_p, t_c], [False, False])
    got = run["answer"]["value"]
    assert _close(got, run["value"]), (
        f"loss_fn for inputs of shape {list(shape)} should be one number, the mean of (t_p - t_c) ** 2 over all "
        f"{t_p.numel()} elements, got {_describe(got)}{_loss_hint(got, t_p, t_c)}"
    )


@pytest.mark.points(4, exercise="1.2")
def test_loss_gradient(student: Student) -> None:
    """the gradient of loss_fn with respect to t_p is torch's"""
    t_p, t_c = _randn(11, scale=10.0), _randn(11, scale=10.0)
    run = _run(student, "linear_model.loss_fn", [t_p, t_c], [True, False])
    answer = run["answer"]
    assert answer["requires_grad"], (
        "loss_fn(t_p, t_c) for a t_p that requires grad returned a tensor that does not: is it detached "
        "(.item(), float(...), torch.tensor(...)) from t_p? Training needs loss.backward()"
    )
    assert _close(answer["grads"][0], run["grads"][0]), (
        "the gradient of loss_fn(t_p, t_c) with respect to t_p differs from that of the mean squared error, "
        "2 * (t_p - t_c) / N"
    )
