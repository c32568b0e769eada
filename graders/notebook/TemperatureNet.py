"""The notebook's test cell for TemperatureNet: the layers it registers and the forward pass they make."""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from model import TemperatureNet

model = TemperatureNet()
assert isinstance(model, torch.nn.Module), "TemperatureNet must subclass nn.Module"
y = model(torch.linspace(-1.0, 1.0, 5).unsqueeze(1))
assert isinstance(y, torch.Tensor) and y.shape == (5, 1), (
    f"TemperatureNet()(x) for x of shape (5, 1) must have shape (5, 1), got {tuple(getattr(y, 'shape', ()))}"
)
### BEGIN HIDDEN TESTS


def failure(text: str) -> Callable[[str], str]:
    """torch.testing.assert_close's msg: what failed, then torch's own account of the difference."""
    return lambda details: f"{text}: {details}"


calls: list[int] = []
for n_hidden in (1, 13, 32):
    model = TemperatureNet(n_hidden=n_hidden)
    children = dict(model.named_children())
    assert sorted(children) == ["hidden_activation", "hidden_linear", "output_linear"], (
        f"TemperatureNet must register exactly hidden_linear, hidden_activation and output_linear, got {sorted(children)}"
    )
    hidden_linear, output_linear = model.hidden_linear, model.output_linear
    assert isinstance(hidden_linear, torch.nn.Linear) and (hidden_linear.in_features, hidden_linear.out_features) == (
        1,
        n_hidden,
    ), f"hidden_linear must be nn.Linear(1, {n_hidden}) for n_hidden={n_hidden}, got {hidden_linear}"
    assert isinstance(output_linear, torch.nn.Linear) and (output_linear.in_features, output_linear.out_features) == (
        n_hidden,
        1,
    ), f"output_linear must be nn.Linear({n_hidden}, 1) for n_hidden={n_hidden}, got {output_linear}"
    assert isinstance(model.hidden_activation, torch.nn.Module), (
        "hidden_activation must be an nn.Module, e.g. nn.Tanh()"
    )
    z = torch.linspace(-3.0, 3.0, 13).unsqueeze(1)
    torch.testing.assert_close(
        model.hidden_activation(z), torch.tanh(z), msg=failure("hidden_activation must compute tanh")
    )
    x = torch.linspace(-2.0, 2.0, 9).unsqueeze(1)
    calls.clear()
    handle = model.register_forward_hook(lambda module, inputs, output: calls.append(1))
    y = model(x)
    handle.remove()
    assert calls, "model(x) did not run nn.Module's hooks: do not override __call__, define forward"
    expected = F.linear(
        torch.tanh(F.linear(x, hidden_linear.weight, hidden_linear.bias)), output_linear.weight, output_linear.bias
    )
    torch.testing.assert_close(
        y,
        expected,
        msg=failure(f"model(x) is not output_linear(tanh(hidden_linear(x))) for n_hidden={n_hidden}"),
    )
    y.sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing}: is part of the forward pass detached?"
### END HIDDEN TESTS
