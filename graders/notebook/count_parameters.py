"""The notebook's test cell for count_parameters: trainable parameters, each counted once."""

import torch
from model import count_parameters

n = count_parameters(torch.nn.Linear(3, 2))
assert n == 3 * 2 + 2, f"nn.Linear(3, 2) has 3 * 2 weights and 2 biases, count_parameters says {n}"
### BEGIN HIDDEN TESTS
n = count_parameters(torch.nn.Linear(5, 1))
assert type(n) is int, f"count_parameters must return a Python int, got {type(n).__name__}"
layers = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
n = count_parameters(layers)
assert n == 4 * 3 + 3 + 3 * 2 + 2, f"Linear(4, 3) -> Tanh -> Linear(3, 2) has {4 * 3 + 3 + 3 * 2 + 2}, got {n}"
layers[0].weight.requires_grad_(False)
n = count_parameters(layers)
assert n == 3 + 3 * 2 + 2, f"a frozen weight (requires_grad=False) is not trainable: expected {3 + 3 * 2 + 2}, got {n}"
shared = torch.nn.Linear(2, 2)
n = count_parameters(torch.nn.Sequential(shared, shared))
assert n == 2 * 2 + 2, f"a layer used twice holds its parameters once: expected {2 * 2 + 2}, got {n}"
n = count_parameters(torch.nn.Tanh())
assert n == 0, f"a module without parameters has 0, got {n}"
### END HIDDEN TESTS
