"""The notebook's test cell for relu: values and gradients against F.relu."""

import torch.nn.functional as F
from _activation_checks import check_values, check_values_and_gradients
from activations import relu

check_values(relu, F.relu, name="relu", reference_name="F.relu")
### BEGIN HIDDEN TESTS
check_values_and_gradients(relu, F.relu, name="relu", reference_name="F.relu", variants=[({}, [0.0])])
### END HIDDEN TESTS
