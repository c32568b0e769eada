"""The notebook's test cell for leaky_relu: values and gradients against F.leaky_relu."""

import torch
import torch.nn.functional as F
from _activation_checks import check_values_and_gradients
from activations import leaky_relu

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = leaky_relu(x)
assert isinstance(y, torch.Tensor), f"leaky_relu must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(
    y, F.leaky_relu(x), msg=lambda m: f"leaky_relu(x) differs from F.leaky_relu(x) for x = {x.tolist()}: {m}"
)
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    leaky_relu,
    F.leaky_relu,
    name="leaky_relu",
    reference_name="F.leaky_relu",
    variants=[({}, [0.0]), ({"negative_slope": 0.2}, [0.0])],
)
### END HIDDEN TESTS
