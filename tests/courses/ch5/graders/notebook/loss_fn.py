"""The notebook's test cell for loss_fn: the mean squared error, one number."""

import torch
from linear_model import loss_fn

loss = loss_fn(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 0.0, 3.0, 0.0]))
assert loss.dim() == 0, f"loss_fn should return one number (a 0-d tensor), got shape {list(loss.shape)}"
torch.testing.assert_close(loss, torch.tensor(5.0), msg="mean((t_p - t_c) ** 2) of [0, 4, 0, 16] is 5")
### BEGIN HIDDEN TESTS
t_p = torch.randn(7, 5, requires_grad=True)
t_c = torch.randn(7, 5)
loss = loss_fn(t_p, t_c)
torch.testing.assert_close(loss, torch.nn.functional.mse_loss(t_p, t_c), msg="loss_fn averages over every element")
(grad,) = torch.autograd.grad(loss, t_p)
(expected,) = torch.autograd.grad(torch.nn.functional.mse_loss(t_p, t_c), t_p)
torch.testing.assert_close(grad, expected, msg="the gradient of loss_fn should be the mean squared error's")
### END HIDDEN TESTS
