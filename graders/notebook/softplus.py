"""The notebook's test cell for softplus: values and gradients against F.softplus."""

import torch
import torch.nn.functional as F
from _activation_checks import check_values_and_gradients
from activations import softplus

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = softplus(x)
assert isinstance(y, torch.Tensor), f"softplus must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(
    y, F.softplus(x), msg=lambda m: f"softplus(x) differs from F.softplus(x) for x = {x.tolist()}: {m}"
)
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    softplus,
    F.softplus,
    name="softplus",
    reference_name="F.softplus",
    variants=[({}, [20.0]), ({"beta": 2.0, "threshold": 5.0}, [2.5])],
)
### END HIDDEN TESTS
