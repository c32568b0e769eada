# Generated from solutions/linear_model.py by `coursekit build-exercises`.
# Students: this is your file to edit. Instructors: edit solutions/ instead and regenerate.
# ruff: noqa: F401, RUF100
"""Exercise 1: the chapter's linear model of the thermometer and its loss (section 5.3)."""

from torch import Tensor


def model(t_u: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """The linear model t_p = w * t_u + b, elementwise.

    t_u holds readings of any shape; w and b are 0-d tensors (or anything that broadcasts with t_u). The
    result has t_u's shape and dtype and is differentiable in w and b: training computes their gradients.
    """
    raise NotImplementedError("Exercise 1.1: implement model (see the docstring)")


def loss_fn(t_p: Tensor, t_c: Tensor) -> Tensor:
    """The mean squared error between predictions t_p and temperatures t_c (the same shape): a 0-d tensor.

    Square the differences elementwise and average over every element, so that the loss does not grow with
    the number of measurements.
    """
    raise NotImplementedError("Exercise 1.2: implement loss_fn (see the docstring)")
