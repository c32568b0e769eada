"""The notebook's test cell for leaky_relu: values and gradients against F.leaky_relu."""

import torch.nn.functional as F
from _activation_checks import check_values, check_values_and_gradients
from activations import leaky_relu

check_values(leaky_relu, F.leaky_relu, name="leaky_relu", reference_name="F.leaky_relu")
### BEGIN HIDDEN TESTS
check_values_and_gradients(
    leaky_relu,
    F.leaky_relu,
    name="leaky_relu",
    reference_name="F.leaky_relu",
    variants=[({}, [0.0]), ({"negative_slope": 0.2}, [0.0])],
)
### END HIDDEN TESTS
