"""Hidden checks shared by the activation exercises' test cells.

An exercise's checks import them; building the notebook lays this file's code into the test cell in place of
that import, all of it between nbgrader's hidden-test markers.
"""

### BEGIN HIDDEN TESTS
import math
from collections.abc import Callable

import torch

Activation = Callable[..., torch.Tensor]


def failure(text: str) -> Callable[[str], str]:
    """torch.testing.assert_close's msg: what failed, then torch's own account of the difference."""
    return lambda details: f"{text}: {details}"


def check_values_and_gradients(
    function: Activation,
    reference: Activation,
    *,
    name: str,
    reference_name: str,
    variants: list[tuple[dict[str, float], list[float]]],
) -> None:
    """Value and gradient against torch's own function, for each (keyword arguments, kinks) variant, and shapes.

    A kink is an input where the function has no derivative (relu at 0); torch's choice of subgradient
    there is a convention, so gradients are compared away from the kinks only.
    """
    for kwargs, kinks in variants:
        for dtype in (torch.float32, torch.float64):
            extremes = [-1e4, -100.0, -89.0, -30.0, -1e-4, 0.0, 1e-4, 30.0, 89.0, 100.0, 1e4]
            x = torch.cat([torch.linspace(-25.0, 25.0, 1001), torch.tensor(extremes + kinks)]).to(dtype)
            x.requires_grad_()
            x_reference = x.detach().clone().requires_grad_()
            where = f"{name}(x, **{kwargs}) in {dtype}"
            y = function(x, **kwargs)
            y_reference = reference(x_reference, **kwargs)
            assert isinstance(y, torch.Tensor) and y.shape == x.shape and y.dtype == dtype, (
                f"{where}: expected a {dtype} tensor of shape {tuple(x.shape)}, got {getattr(y, 'dtype', type(y))} "
                f"of shape {tuple(getattr(y, 'shape', ()))}"
            )
            bad = ~torch.isfinite(y.detach())
            assert not bad.any(), (
                f"{where} is not finite at x = {x.detach()[bad][:5].tolist()}: does exp see a large positive number?"
            )
            torch.testing.assert_close(y, y_reference, msg=failure(f"{where} differs from {reference_name}"))
            weights = torch.linspace(0.5, 1.5, x.numel(), dtype=dtype)
            (y * weights).sum().backward()
            (y_reference * weights).sum().backward()
            assert x.grad is not None, (
                f"{where}: no gradient reaches x; is the result detached (.detach(), .item(), numpy)?"
            )
            assert x_reference.grad is not None
            bad = ~torch.isfinite(x.grad)
            assert not bad.any(), (
                f"the gradient of {where} is not finite at x = {x.detach()[bad][:5].tolist()}: "
                "an inf in an unused branch of torch.where still poisons the gradient"
            )
            smooth = ~torch.isin(x.detach(), torch.tensor(kinks, dtype=dtype))
            torch.testing.assert_close(
                x.grad[smooth],
                x_reference.grad[smooth],
                msg=failure(f"the gradient of {where} differs from {reference_name}'s"),
            )
    for shape in [(), (0,), (2, 3, 4)]:
        x = torch.linspace(-2.0, 2.0, math.prod(shape)).reshape(shape)
        y = function(x)
        assert isinstance(y, torch.Tensor) and y.shape == x.shape, (
            f"{name} of a tensor of shape {shape} must have that shape, got {tuple(getattr(y, 'shape', ()))}"
        )
        torch.testing.assert_close(y, reference(x), msg=failure(f"{name}, shape {shape}"))


### END HIDDEN TESTS
