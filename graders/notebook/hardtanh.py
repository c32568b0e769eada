"""The notebook's test cell for hardtanh: values and gradients against F.hardtanh."""

import torch
import torch.nn.functional as F
from _activation_checks import check_values_and_gradients
from activations import hardtanh

x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
y = hardtanh(x)
assert isinstance(y, torch.Tensor), f"hardtanh must return a tensor, got {type(y).__name__}"
torch.testing.assert_close(
    y, F.hardtanh(x), msg=lambda m: f"hardtanh(x) differs from F.hardtanh(x) for x = {x.tolist()}: {m}"
)
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    hardtanh,
    F.hardtanh,
    name="hardtanh",
    reference_name="F.hardtanh",
    variants=[({}, [-1.0, 1.0]), ({"min_val": -2.0, "max_val": 0.5}, [-2.0, 0.5])],
)
### END HIDDEN TESTS
