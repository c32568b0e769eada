"""Exercise 1: the chapter's linear model of the thermometer and its loss (section 5.3)."""

from torch import Tensor


def model(t_u: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """The linear model t_p = w * t_u + b, elementwise.

    t_u holds readings of any shape; w and b are 0-d tensors (or anything that broadcasts with t_u). The
    result has t_u's shape and dtype and is differentiable in w and b: training computes their gradients.
    """
    ### BEGIN SOLUTION
    return w * t_u + b
    ### END SOLUTION


def loss_fn(t_p: Tensor, t_c: Tensor) -> Tensor:
    """The mean squared error between predictions t_p and temperatures t_c (the same shape): a 0-d tensor.

    Square the differences elementwise and average over every element, so that the loss does not grow with
    the number of measurements.
    """
    ### BEGIN SOLUTION
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()
    ### END SOLUTION
