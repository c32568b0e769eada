"""The notebook's test cell for sigmoid: values and gradients against torch.sigmoid."""

import torch
from _activation_checks import check_values, check_values_and_gradients
from activations import sigmoid

check_values(sigmoid, torch.sigmoid, name="sigmoid", reference_name="torch.sigmoid")
### BEGIN HIDDEN TESTS
check_values_and_gradients(sigmoid, torch.sigmoid, name="sigmoid", reference_name="torch.sigmoid", variants=[({}, [])])
### END HIDDEN TESTS
