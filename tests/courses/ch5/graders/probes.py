"""Chapter 5's probes: what the worker runs beside the student's code for the graders, and each answer's form.

This file is the only one of the course the sandbox sees (course.yml's `chapter.probes`, mounted read-only). It
runs on the untrusted side, so it decides nothing: each probe calls the student's code on the grader's inputs and
returns plain data, which the graders judge against torch on their own side. The models and losses it hands to
the student's training loop are torch's own operations, never this course's reference solution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pydantic import StrictBool
from torch import Tensor
from typing_extensions import TypedDict

from coursekit.sandbox.probes import STRICT_ANSWER, AnyTensor, Handin, StudentFailure, call_student, plain_tensor, probe


class _CallWithGrads(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    value: AnyTensor
    requires_grad: StrictBool
    grads: list[AnyTensor | None]


@probe("call_with_grads", answer=_CallWithGrads)
def probe_call_with_grads(
    handin: Handin, *, function: str, args: list[Tensor], differentiate: list[bool], grad_output: Tensor
) -> dict[str, Any]:
    """function(*args) with the arguments marked in `differentiate` requiring grad, then the vector-Jacobian
    product with grad_output: the value and, per argument, its gradient (None where it has none)."""
    f = handin.function(function)
    inputs = [arg.clone().requires_grad_(flag) for arg, flag in zip(args, differentiate, strict=True)]
    value = call_student(handin, f, *inputs)
    if not isinstance(value, Tensor):
        raise StudentFailure(f"{function.rpartition('.')[2]} returned {type(value).__name__}, expected a torch.Tensor")
    grads: list[Tensor | None] = [None] * len(inputs)
    wanted = [x for x in inputs if x.requires_grad]
    if value.requires_grad and value.shape == grad_output.shape and wanted:
        found = call_student(handin, torch.autograd.grad, value, wanted, grad_output, allow_unused=True)
        found_by_input = iter(found)
        grads = [next(found_by_input) if x.requires_grad else None for x in inputs]
        grads = [None if g is None else plain_tensor(g, "the gradient") for g in grads]
    return {"value": plain_tensor(value, function), "requires_grad": bool(value.requires_grad), "grads": grads}


# The models and losses a training loop is run with, by name: torch's operations, with params in the book's order.
MODELS: dict[str, Callable[..., Tensor]] = {
    "linear": lambda t_u, w, b: torch.addcmul(b, w, t_u),
    "quadratic": lambda t_u, w2, w1, b: torch.addcmul(torch.addcmul(b, w1, t_u), w2, t_u.square()),
}
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": torch.nn.functional.mse_loss,
    "l1": torch.nn.functional.l1_loss,
}


class _TrainingLoop(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    params: AnyTensor


@probe("training_loop", answer=_TrainingLoop, function="training_loop")
def probe_training_loop(
    handin: Handin,
    *,
    model: str,
    loss: str,
    n_epochs: int,
    learning_rate: float,
    params: Tensor,
    t_u: Tensor,
    t_c: Tensor,
) -> dict[str, Any]:
    """The student's training_loop on the grader's model, loss, data and starting parameters: what it returned."""
    trained = call_student(
        handin,
        handin.function("gradient_descent.training_loop"),
        n_epochs,
        learning_rate,
        params.clone().requires_grad_(True),
        t_u.clone(),
        t_c.clone(),
        MODELS[model],
        LOSSES[loss],
    )
    return {"params": plain_tensor(trained, "training_loop")}
