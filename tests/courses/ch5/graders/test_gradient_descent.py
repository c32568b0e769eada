"""Hidden graders for Exercise 2, gradient descent with autograd (part `descent`, 60 points: 2.1).

The student's training_loop runs on a model, a loss, data and starting parameters chosen here (`training_loop`
probe): torch's own operations, never the student's model.py, so a broken Exercise 1 costs Exercise 1's points
only. The parameters it returns are judged against this file's replay of plain gradient descent from the same
start; a mismatch is compared with replays of the usual mistakes, and the hint names one only when it matches.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from coursekit.config import Course
from coursekit.sandbox.student import Student

# Reseeded before every test from course.yml's seed and the test's name (graders/conftest.py).
_GENERATOR = torch.Generator()
DATA = Path(__file__).resolve().parents[1] / "data" / "thermometer.csv"

# The same torch operations the probe hands to the student's loop, so a correct loop matches to the last bit.
MODELS: dict[str, Callable[..., Tensor]] = {
    "linear": lambda t_u, w, b: torch.addcmul(b, w, t_u),
    "quadratic": lambda t_u, w2, w1, b: torch.addcmul(torch.addcmul(b, w1, t_u), w2, t_u.square()),
}
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": torch.nn.functional.mse_loss,
    "l1": torch.nn.functional.l1_loss,
}


def book_readings() -> tuple[Tensor, Tensor]:
    """(t_u, t_c) from the course's data, each float32 of shape [11]."""
    with DATA.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return torch.tensor([float(row["t_u"]) for row in rows]), torch.tensor([float(row["t_c"]) for row in rows])


def descend(problem: dict, *, n_epochs: int | None = None, zero_grad: bool = True, sign: float = 1.0) -> Tensor:
    """Plain gradient descent on `problem` as the contract says (or with one of the usual mistakes)."""
    model, loss_fn = MODELS[problem["model"]], LOSSES[problem["loss"]]
    params = problem["params"].clone().requires_grad_(True)
    for _ in range(problem["n_epochs"] if n_epochs is None else n_epochs):
        if zero_grad and params.grad is not None:
            params.grad.zero_()
        loss = loss_fn(model(problem["t_u"], *params), problem["t_c"])
        loss.backward()
        with torch.no_grad():
            params -= sign * problem["learning_rate"] * params.grad
    return params.detach()


def relative_difference(got: Tensor, expected: Tensor) -> float:
    return float((got.double() - expected.double()).abs().max() / expected.double().abs().max().clamp_min(1e-6))


def mistakes(problem: dict[str, Any]) -> list[tuple[Tensor, str]]:
    """Replays of the usual mistakes, each with the hint it earns when the student's parameters are its."""
    n = problem["n_epochs"]
    return [
        (
            descend(problem, zero_grad=False),
            "did you forget params.grad.zero_()? gradients accumulate epoch after epoch",
        ),
        (descend(problem, sign=-1.0), "the parameters climbed the loss: step against the gradient, params - lr * grad"),
        (
            descend(problem, n_epochs=n - 1),
            f"that is {n - 1} steps, not {n}: does range() start at 1 and stop at n_epochs?",
        ),
        (descend(problem, n_epochs=n + 1), f"that is {n + 1} steps, not {n}: one step per epoch"),
        (problem["params"], "the parameters came back unchanged: is the step made on params itself?"),
    ]


def judge(
    student: Student, problem: dict[str, Any], course: Course, what: str, *, attach: Callable | None = None
) -> Tensor:
    """Run the student's loop on `problem` and fail with a hint unless it returns the replay's parameters.

    With `attach`, the trained line goes to the feedback picture (course.yml's chapter.figure)."""
    got = student.run("training_loop", **problem)["params"]
    expected = descend(problem)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (
        f"training_loop should return the trained params, a tensor of shape {list(expected.shape)} "
        f"({expected.dtype}), got shape {list(got.shape)}, {got.dtype}"
    )
    if attach is not None and bool(torch.isfinite(got).all()):
        t_u, t_c = book_readings()
        attach("figure", {"params": got, "t_u": t_u, "t_c": t_c, "scale": 0.1})
    tolerance = course.thresholds["descent_tolerance"]
    if relative_difference(got, expected) <= tolerance:
        return got
    hint = next((hint for replay, hint in mistakes(problem) if relative_difference(got, replay) <= tolerance), None)
    pytest.fail(
        f"{what}: the trained parameters are not those of gradient descent from the same start"
        + (f": {hint}" if hint else "")
    )


# --- the grader's problems: a model, a loss, data and a start, all chosen here -------------------------------


def book_problem() -> dict[str, Any]:
    """The chapter's fit: the book's readings, t_un = 0.1 * t_u, lr 1e-2 from [1, 0] (500 of the book's 5000 epochs)."""
    t_u, t_c = book_readings()
    return {
        "model": "linear",
        "loss": "mse",
        "n_epochs": 500,
        "learning_rate": 1e-2,
        "params": torch.tensor([1.0, 0.0]),
        "t_u": 0.1 * t_u,
        "t_c": t_c,
    }


def quadratic_problem(generator: torch.Generator) -> dict[str, Any]:
    """The chapter's closing exercise, w2 * t_u ** 2 + w1 * t_u + b, under an L1 loss, on fresh data."""
    t_u = torch.rand(40, generator=generator) * 4 - 2
    t_c = 0.7 * t_u**2 - 1.5 * t_u + 0.3 + 0.1 * torch.randn(40, generator=generator)
    return {
        "model": "quadratic",
        "loss": "l1",
        "n_epochs": 60,
        "learning_rate": 5e-2,
        "params": torch.randn(3, generator=generator),
        "t_u": t_u,
        "t_c": t_c,
    }


def one_epoch_problem(generator: torch.Generator) -> dict[str, Any]:
    """One epoch of the linear model from a random start."""
    t_u = torch.rand(20, generator=generator) * 6 + 2
    return {
        "model": "linear",
        "loss": "mse",
        "n_epochs": 1,
        "learning_rate": 1e-3,
        "params": torch.randn(2, generator=generator),
        "t_u": t_u,
        "t_c": 3.0 * t_u - 4.0,
    }


# --- the checks -----------------------------------------------------------------------------------------------


@pytest.mark.public
@pytest.mark.points(30, exercise="2.1")
def test_fits_the_readings_as_the_chapter_does(student: Student, course: Course, attach: Callable) -> None:
    """training_loop fits the book's readings as the chapter does (t_un = 0.1 * t_u, lr 1e-2, from [1, 0])"""
    judge(student, book_problem(), course, "500 epochs on the book's readings", attach=attach)


@pytest.mark.points(20, exercise="2.1")
def test_any_model_and_loss(student: Student, course: Course) -> None:
    """training_loop uses the model and loss it is given, with any number of parameters"""
    judge(
        student,
        quadratic_problem(_GENERATOR),
        course,
        "a quadratic model, w2 * t_u ** 2 + w1 * t_u + b, under an L1 loss",
    )


@pytest.mark.points(10, exercise="2.1")
def test_one_epoch_is_one_step(student: Student, course: Course) -> None:
    """training_loop with n_epochs=1 makes one step, params - learning_rate * gradient"""
    judge(student, one_epoch_problem(_GENERATOR), course, "one epoch")
