"""The notebook's test cell for softplus: values and gradients against F.softplus."""

import torch.nn.functional as F
from _activation_checks import check_values, check_values_and_gradients
from activations import softplus

check_values(softplus, F.softplus, name="softplus", reference_name="F.softplus")
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    softplus,
    F.softplus,
    name="softplus",
    reference_name="F.softplus",
    variants=[({}, [20.0]), ({"beta": 2.0, "threshold": 5.0}, [2.5])],
)
### END HIDDEN TESTS
