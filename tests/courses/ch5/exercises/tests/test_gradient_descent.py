"""Public checks for Exercise 2 (gradient_descent.py): the training loop on the book's readings.

These tests give training_loop their own model and loss, so they check gradient_descent.py alone, whatever the
state of linear_model.py.
"""

import pytest
import torch
from gradient_descent import training_loop
from torch import Tensor


def linear(t_u: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return w * t_u + b


def mse(t_p: Tensor, t_c: Tensor) -> Tensor:
    return ((t_p - t_c) ** 2).mean()


@pytest.mark.ex2_1
def test_2_1_one_epoch_is_one_gradient_step() -> None:
    t_u = torch.tensor([1.0, 2.0, 3.0])
    t_c = torch.tensor([2.0, 4.0, 6.0])
    params = training_loop(1, 0.1, torch.tensor([0.0, 0.0], requires_grad=True), t_u, t_c, linear, mse)
    assert isinstance(params, Tensor), f"training_loop should return the trained params, got {type(params).__name__}"
    # The loss's gradient at w = b = 0 is [-2 * mean(t_c * t_u), -2 * mean(t_c)] = [-56 / 3, -8].
    torch.testing.assert_close(
        params.detach(), torch.tensor([5.6 / 3, 0.8]), msg="one step of lr 0.1 from [0, 0] should reach [56/30, 0.8]"
    )


@pytest.mark.ex2_1
def test_2_1_fits_the_book_readings(readings: tuple[Tensor, Tensor]) -> None:
    t_c, t_u = readings
    params = training_loop(5000, 1e-2, torch.tensor([1.0, 0.0], requires_grad=True), 0.1 * t_u, t_c, linear, mse)
    # The book's section 5.5.1: 5000 epochs give w = 5.3671 and b = -17.3012 (t_un = 0.1 * t_u).
    torch.testing.assert_close(
        params.detach(),
        torch.tensor([5.3671, -17.3012]),
        atol=1e-3,
        rtol=1e-3,
        msg="5000 epochs at lr 1e-2 from [1, 0] should reach the book's w = 5.3671, b = -17.3012: "
        "did you zero params.grad each epoch?",
    )
