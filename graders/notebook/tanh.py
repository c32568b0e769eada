"""The notebook's test cell for tanh: values and gradients against torch.tanh."""

import torch
from _activation_checks import check_values_and_gradients
from activations import tanh

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = tanh(x)
assert isinstance(y, torch.Tensor), f"tanh must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(
    y, torch.tanh(x), msg=lambda m: f"tanh(x) differs from torch.tanh(x) for x = {x.tolist()}: {m}"
)
### BEGIN HIDDEN TESTS
check_values_and_gradients(tanh, torch.tanh, name="tanh", reference_name="torch.tanh", variants=[({}, [])])
### END HIDDEN TESTS
