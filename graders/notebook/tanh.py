"""The notebook's test cell for tanh: values and gradients against torch.tanh."""

import torch
from _activation_checks import check_values, check_values_and_gradients
from activations import tanh

check_values(tanh, torch.tanh, name="tanh", reference_name="torch.tanh")
### BEGIN HIDDEN TESTS
check_values_and_gradients(tanh, torch.tanh, name="tanh", reference_name="torch.tanh", variants=[({}, [])])
### END HIDDEN TESTS
