# Generated from solutions/model.py by `coursekit build-exercises`.
# Students: this is your file to edit. Instructors: edit solutions/ instead and regenerate.
# ruff: noqa: F401, RUF100
"""Exercise 2: a custom `nn.Module` for the thermometer, 1 -> n_hidden -> 1 with a tanh in between."""

from torch import Tensor, nn


class TemperatureNet(nn.Module):
    """The chapter's network: Linear(1, n_hidden) -> tanh -> Linear(n_hidden, 1).

    Register exactly three submodules, under these names:
    `hidden_linear` (nn.Linear 1 -> n_hidden), `hidden_activation` (an nn.Module computing tanh,
    `nn.Tanh()` or your own, right for every finite input as nn.Tanh is) and `output_linear`
    (nn.Linear n_hidden -> 1).
    `forward` maps a batch of shape [N, 1] to [N, 1] by calling each registered submodule once, as a
    module: `self.hidden_activation(h)`, not `torch.tanh(h)` in its place (replacing a submodule must
    change the model), and never `.forward(h)`. Call the model (`model(x)`), never `model.forward(x)`,
    so that PyTorch's hooks run, the model's and each submodule's; do not override `__call__`.
    """

    def __init__(self, n_hidden: int = 13) -> None:
        super().__init__()
        raise NotImplementedError("Exercise 2.1: implement TemperatureNet.__init__ (see the class docstring)")

    def forward(self, x: Tensor) -> Tensor:
        """Map inputs of shape [N, 1] to outputs of shape [N, 1]."""
        raise NotImplementedError("Exercise 2.1: implement TemperatureNet.forward (see the docstring)")


def count_parameters(model: nn.Module) -> int:
    """The number of trainable scalars in `model` (weights and biases, only those with requires_grad).

    For TemperatureNet(13): 13 + 13 + 13 + 1 = 40.
    """
    raise NotImplementedError("Exercise 2.2: implement count_parameters (see the docstring)")
