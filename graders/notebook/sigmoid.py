"""The notebook's test cell for sigmoid: values and gradients against torch.sigmoid."""

import torch
from _activation_checks import check_values_and_gradients
from activations import sigmoid

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = sigmoid(x)
assert isinstance(y, torch.Tensor), f"sigmoid must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(
    y, torch.sigmoid(x), msg=lambda m: f"sigmoid(x) differs from torch.sigmoid(x) for x = {x.tolist()}: {m}"
)
### BEGIN HIDDEN TESTS
check_values_and_gradients(sigmoid, torch.sigmoid, name="sigmoid", reference_name="torch.sigmoid", variants=[({}, [])])
### END HIDDEN TESTS
