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
        ### BEGIN SOLUTION
        self.hidden_linear = nn.Linear(1, n_hidden)
        self.hidden_activation = nn.Tanh()
        self.output_linear = nn.Linear(n_hidden, 1)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Map inputs of shape [N, 1] to outputs of shape [N, 1]."""
        ### BEGIN SOLUTION
        return self.output_linear(self.hidden_activation(self.hidden_linear(x)))
        ### END SOLUTION


def count_parameters(model: nn.Module) -> int:
    """The number of trainable scalars in `model` (weights and biases, only those with requires_grad).

    For TemperatureNet(13): 13 + 13 + 13 + 1 = 40.
    """
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION
