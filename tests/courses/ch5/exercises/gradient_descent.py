# Generated from solutions/gradient_descent.py by `coursekit build-exercises`.
# Students: this is your file to edit. Instructors: edit solutions/ instead and regenerate.
# ruff: noqa: F401, RUF100
"""Exercise 2: gradient descent, with the gradient computed by autograd (section 5.5)."""

from collections.abc import Callable

import torch
from torch import Tensor


def training_loop(
    n_epochs: int,
    learning_rate: float,
    params: Tensor,
    t_u: Tensor,
    t_c: Tensor,
    model: Callable[..., Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
) -> Tensor:
    """Fit `params` by n_epochs steps of plain gradient descent; return the trained parameters.

    params is a 1-d tensor with requires_grad=True holding the model's parameters, as many as the model
    takes ([w, b] for the linear model). Each epoch: the prediction t_p = model(t_u, *params), the loss
    loss_fn(t_p, t_c), its gradient by loss.backward(), and the step params - learning_rate * params.grad.
    Gradients accumulate in params.grad: zero it each epoch (params.grad.zero_()), and make the step under
    torch.no_grad() so that it is not itself recorded. Use the model and loss_fn you are given.
    """
    raise NotImplementedError("Exercise 2.1: implement training_loop (see the docstring)")
