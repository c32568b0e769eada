"""Public checks for Exercise 1 (linear_model.py): the linear model and the mean squared error."""

import pytest
import torch
from linear_model import loss_fn, model


@pytest.mark.ex1_1
def test_1_1_model_is_w_times_t_u_plus_b() -> None:
    t_u = torch.tensor([35.7, 55.9, 58.2])
    t_p = model(t_u, torch.tensor(2.0), torch.tensor(-1.0))
    assert isinstance(t_p, torch.Tensor), f"model should return a torch.Tensor, got {type(t_p).__name__}"
    assert t_p.shape == t_u.shape, f"model(t_u, w, b) should have t_u's shape {list(t_u.shape)}, got {list(t_p.shape)}"
    torch.testing.assert_close(t_p, 2.0 * t_u - 1.0, msg="model(t_u, w=2, b=-1) should be 2 * t_u - 1")


@pytest.mark.ex1_1
def test_1_1_model_is_differentiable_in_w_and_b() -> None:
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    model(torch.tensor([1.0, 2.0, 3.0]), w, b).sum().backward()
    assert w.grad is not None and b.grad is not None, "model's result should depend on w and b through autograd"
    torch.testing.assert_close(w.grad, torch.tensor(6.0), msg="d/dw of sum(w * t_u + b) is sum(t_u) = 6")
    torch.testing.assert_close(b.grad, torch.tensor(3.0), msg="d/db of sum(w * t_u + b) is the number of readings, 3")


@pytest.mark.ex1_2
def test_1_2_loss_fn_is_the_mean_squared_error() -> None:
    t_p = torch.tensor([1.0, 2.0, 3.0, 4.0])
    t_c = torch.tensor([1.0, 0.0, 3.0, 0.0])
    mse = loss_fn(t_p, t_c)
    assert isinstance(mse, torch.Tensor), f"loss_fn should return a torch.Tensor, got {type(mse).__name__}"
    assert mse.dim() == 0, f"loss_fn should return one number (a 0-d tensor), got shape {list(mse.shape)}"
    torch.testing.assert_close(mse, torch.tensor(5.0), msg="mean((t_p - t_c) ** 2) of [0, 4, 0, 16] is 5")


@pytest.mark.ex1_2
def test_1_2_loss_fn_on_the_book_readings(readings: tuple[torch.Tensor, torch.Tensor]) -> None:
    t_c, t_u = readings
    loss = loss_fn(model(t_u, torch.ones(()), torch.zeros(())), t_c)
    # The book's section 5.3: with w = 1 and b = 0, the loss is 1763.8846.
    torch.testing.assert_close(loss, torch.tensor(1763.8846), msg="the book's loss for w = 1, b = 0 is 1763.8846")
