"""The notebook's test cell for hardtanh: values and gradients against F.hardtanh."""

import torch.nn.functional as F
from _activation_checks import check_values, check_values_and_gradients
from activations import hardtanh

check_values(hardtanh, F.hardtanh, name="hardtanh", reference_name="F.hardtanh")
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    hardtanh,
    F.hardtanh,
    name="hardtanh",
    reference_name="F.hardtanh",
    variants=[({}, [-1.0, 1.0]), ({"min_val": -2.0, "max_val": 0.5}, [-2.0, 0.5])],
)
### END HIDDEN TESTS
