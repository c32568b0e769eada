"""The notebook's test cell for model: w * t_u + b, elementwise, differentiable in w and b."""

import torch
from linear_model import model

t_u = torch.tensor([35.7, 55.9, 58.2])
t_p = model(t_u, torch.tensor(2.0), torch.tensor(-1.0))
torch.testing.assert_close(t_p, 2.0 * t_u - 1.0, msg="model(t_u, w=2, b=-1) should be 2 * t_u - 1")
### BEGIN HIDDEN TESTS
t_u = torch.randn(4, 3, dtype=torch.float64)
w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
b = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
t_p = model(t_u, w, b)
assert t_p.shape == t_u.shape and t_p.dtype == torch.float64, f"model keeps t_u's shape and dtype, got {t_p.shape}"
torch.testing.assert_close(t_p, torch.addcmul(b, w, t_u), msg="model(t_u, w, b) should be w * t_u + b")
grad_w, grad_b = torch.autograd.grad(t_p.sum(), (w, b))
torch.testing.assert_close(grad_w, t_u.sum(), msg="the gradient with respect to w should be the sum of t_u")
torch.testing.assert_close(grad_b, torch.tensor(12.0, dtype=torch.float64), msg="and with respect to b, N = 12")
### END HIDDEN TESTS
