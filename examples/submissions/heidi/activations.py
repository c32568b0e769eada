"""Exercise 1: activation functions from elementary tensor operations.

Every function is elementwise: it returns a tensor of the same shape, dtype and device as `x`
(0-d and empty tensors included), equal to `torch.nn.functional`'s result in value and gradient,
with a finite value and gradient for every finite input. Build them from elementary operations
(`torch.exp`, `torch.log1p`, `torch.abs`, `torch.clamp`, `torch.where`, arithmetic); calling torch's
own activation (`torch.tanh`, `torch.sigmoid`, `torch.relu`, `torch.nn.functional.*`, ...) is not allowed.
The gradient must be right at every point, x = 0 included: there `torch.abs` and `torch.sign` have
gradient 0 and `torch.clamp(x, min=0)` passes 1, so a smooth function built on them can be wrong exactly
at 0. At a kink (relu at 0, hardtanh at its bounds) any gradient between the one-sided limits is fine.
"""

import torch
from torch import Tensor


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, tanh(x) = (e^x - e^-x) / (e^x + e^-x).

    Written that way, e^x overflows to inf for x > 88 in float32 and the result is nan:
    rewrite it so that exp only ever sees a non-positive number.
    """
    ### BEGIN SOLUTION
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
    ### END SOLUTION


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid, sigmoid(x) = 1 / (1 + e^-x), stable for any finite x (value and gradient)."""
    ### BEGIN SOLUTION
    e = torch.exp(-torch.where(x >= 0, x, -x))  # e^-|x| lies in (0, 1]
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, relu(x) = max(x, 0)."""
    ### BEGIN SOLUTION
    return torch.where(x > 0, x, torch.zeros_like(x))
    ### END SOLUTION


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU: x where x > 0, negative_slope * x elsewhere."""
    ### BEGIN SOLUTION
    return torch.where(x > 0, x, negative_slope * x)
    ### END SOLUTION


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Hardtanh: x clipped to [min_val, max_val]."""
    ### BEGIN SOLUTION
    return torch.clamp(x, min=min_val, max=max_val)
    ### END SOLUTION


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus, log(1 + e^(beta * x)) / beta, a smooth ReLU.

    Like `torch.nn.functional.softplus`, it returns x itself where beta * x > threshold.
    """
    ### BEGIN SOLUTION
    z = beta * x
    positive = z >= 0
    magnitude = torch.where(positive, z, -z)
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): exp never sees a positive number.
    smooth = (torch.where(positive, z, torch.zeros_like(z)) + torch.log1p(torch.exp(-magnitude))) / beta
    return torch.where(z > threshold, x, smooth)
    ### END SOLUTION
