"""The notebook's test cell for training_loop: one step per epoch, the gradient zeroed each time."""

import torch
from gradient_descent import training_loop


def linear(t_u: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(b, w, t_u)


t_u = torch.tensor([1.0, 2.0, 3.0])
t_c = torch.tensor([2.0, 4.0, 6.0])
params = training_loop(
    1, 0.1, torch.tensor([0.0, 0.0], requires_grad=True), t_u, t_c, linear, torch.nn.functional.mse_loss
)
torch.testing.assert_close(params.detach(), torch.tensor([5.6 / 3, 0.8]), msg="one step of lr 0.1 from [0, 0]")
### BEGIN HIDDEN TESTS
n_epochs, learning_rate = 20, 1e-2
start = torch.tensor([1.0, 0.0])
expected = start.clone().requires_grad_(True)
for _ in range(n_epochs):
    (grad,) = torch.autograd.grad(torch.nn.functional.mse_loss(linear(t_u, *expected), t_c), expected)
    expected = (expected - learning_rate * grad).detach().requires_grad_(True)
params = training_loop(
    n_epochs, learning_rate, start.clone().requires_grad_(True), t_u, t_c, linear, torch.nn.functional.mse_loss
)
torch.testing.assert_close(
    params.detach(),
    expected.detach(),
    msg="20 epochs should be 20 steps of params - lr * grad: did you zero params.grad each epoch?",
)
### END HIDDEN TESTS
