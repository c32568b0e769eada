"""The notebook's test cell for relu: values and gradients against F.relu."""

import torch
import torch.nn.functional as F
from _activation_checks import check_values_and_gradients
from activations import relu

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = relu(x)
assert isinstance(y, torch.Tensor), f"relu must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(y, F.relu(x), msg=lambda m: f"relu(x) differs from F.relu(x) for x = {x.tolist()}: {m}")
### BEGIN HIDDEN TESTS
check_values_and_gradients(relu, F.relu, name="relu", reference_name="F.relu", variants=[({}, [0.0])])
### END HIDDEN TESTS
