"""Public checks for Exercise 2 (model.py): TemperatureNet's layers, shapes and size, and count_parameters."""

import pytest
import torch
from model import TemperatureNet, count_parameters
from torch import Tensor, nn


@pytest.mark.ex2_1
def test_2_1_temperature_net_registers_the_three_submodules() -> None:
    model = TemperatureNet(n_hidden=13)
    names = sorted(name for name, _ in model.named_children())
    assert names == ["hidden_activation", "hidden_linear", "output_linear"], (
        "TemperatureNet should register exactly hidden_linear, hidden_activation and output_linear "
        f"(assigned as self.<name> = ... in __init__), got {names}"
    )
    assert isinstance(model.hidden_linear, nn.Linear), "hidden_linear should be an nn.Linear"
    assert (model.hidden_linear.in_features, model.hidden_linear.out_features) == (1, 13), (
        "hidden_linear should map 1 input feature to n_hidden=13, got "
        f"nn.Linear({model.hidden_linear.in_features}, {model.hidden_linear.out_features})"
    )
    assert isinstance(model.hidden_activation, nn.Module), (
        f"hidden_activation should be an nn.Module such as nn.Tanh(), got {type(model.hidden_activation).__name__}"
    )
    assert isinstance(model.output_linear, nn.Linear), "output_linear should be an nn.Linear"
    assert (model.output_linear.in_features, model.output_linear.out_features) == (13, 1), (
        "output_linear should map n_hidden=13 features to 1 output, got "
        f"nn.Linear({model.output_linear.in_features}, {model.output_linear.out_features})"
    )


@pytest.mark.ex2_1
def test_2_1_temperature_net_output_has_shape_n_by_1() -> None:
    model = TemperatureNet()
    x = torch.rand(5, 1)
    y = model(x)
    assert isinstance(y, Tensor), f"model(x) should return a torch.Tensor, got {type(y).__name__}"
    assert y.shape == (5, 1), f"model(x) for x of shape [5, 1] should have shape [5, 1], got {list(y.shape)}"
    assert y.dtype == torch.float32, f"model(x) for a float32 x should be float32, got {y.dtype}"


@pytest.mark.ex2_1
def test_2_1_temperature_net_has_40_parameters_with_13_hidden() -> None:
    model = TemperatureNet(n_hidden=13)
    total = sum(p.numel() for p in model.parameters())
    assert total == 40, (
        f"TemperatureNet(13) should have 13 + 13 + 13 + 1 = 40 parameters (weights and biases), got {total}"
    )


@pytest.mark.ex2_1
def test_2_1_temperature_net_n_hidden_sets_the_width() -> None:
    model = TemperatureNet(n_hidden=4)
    total = sum(p.numel() for p in model.parameters())
    assert total == 4 + 4 + 4 + 1, (
        f"TemperatureNet(n_hidden=4) should have 4 + 4 + 4 + 1 = 13 parameters, got {total}: is n_hidden used?"
    )


@pytest.mark.ex2_1
def test_2_1_temperature_net_forward_is_linear_tanh_linear() -> None:
    model = TemperatureNet()
    x = torch.linspace(2.0, 9.0, 8).unsqueeze(1)
    with torch.no_grad():
        expected = model.output_linear(torch.tanh(model.hidden_linear(x)))
        got = model(x)
    assert torch.allclose(got, expected, atol=1e-6), (
        "model(x) should be output_linear(tanh(hidden_linear(x))); "
        f"for x = {x.flatten().tolist()} expected {expected.flatten().tolist()}, got {got.flatten().tolist()}"
    )


@pytest.mark.ex2_2
def test_2_2_count_parameters_of_a_linear_layer() -> None:
    got = count_parameters(nn.Linear(1, 13))
    assert got == 26, f"count_parameters(nn.Linear(1, 13)) should be 13 weights + 13 biases = 26, got {got}"
    assert isinstance(got, int), f"count_parameters should return a Python int, got {type(got).__name__}"


@pytest.mark.ex2_2
def test_2_2_count_parameters_of_the_chapter_network() -> None:
    model = nn.Sequential(nn.Linear(1, 13), nn.Tanh(), nn.Linear(13, 1))
    got = count_parameters(model)
    assert got == 40, f"count_parameters of Linear(1, 13) -> Tanh -> Linear(13, 1) should be 40, got {got}"


@pytest.mark.ex2_2
def test_2_2_count_parameters_skips_frozen_parameters() -> None:
    model = nn.Sequential(nn.Linear(1, 13), nn.Tanh(), nn.Linear(13, 1))
    model[0].requires_grad_(False)
    got = count_parameters(model)
    assert got == 14, (
        f"with the first layer frozen (requires_grad=False) only 13 + 1 = 14 parameters are trainable, got {got}"
    )
