"""Public checks for Exercise 1 (activations.py): values against torch.nn.functional, shapes and dtypes.

The hidden graders check more (gradients, many random inputs, extreme values); passing these is a start.
"""

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from activations import hardtanh, leaky_relu, relu, sigmoid, softplus, tanh
from torch import Tensor

SMALL = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])


def assert_matches(name: str, got: object, expected: Tensor, x: Tensor) -> None:
    """Compare one activation's result with torch's, with a message that shows the inputs and both outputs."""
    assert isinstance(got, Tensor), f"{name} should return a torch.Tensor, got {type(got).__name__}"
    assert got.shape == expected.shape, f"{name} should keep the input's shape {tuple(x.shape)}, got {tuple(got.shape)}"
    assert got.dtype == expected.dtype, f"{name} should keep the input's dtype {x.dtype}, got {got.dtype}"
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6), (
        f"{name} differs from torch.nn.functional's:\n  x        = {x.tolist()}\n"
        f"  expected = {expected.tolist()}\n  got      = {got.tolist()}"
    )


def assert_keeps_shape_and_dtype(name: str, activation: Callable[[Tensor], Tensor]) -> None:
    """An elementwise function returns a tensor like its input: 2-d float64, 0-d and empty tensors included."""
    for x in (torch.linspace(-2.0, 2.0, 6, dtype=torch.float64).reshape(2, 3), torch.tensor(0.5), torch.empty(0, 1)):
        got = activation(x)
        assert isinstance(got, Tensor), f"{name} should return a torch.Tensor, got {type(got).__name__}"
        assert got.shape == x.shape, (
            f"{name}(x) for x of shape {tuple(x.shape)} should have the same shape, got {tuple(got.shape)}"
        )
        assert got.dtype == x.dtype, f"{name}(x) for a {x.dtype} x should be {x.dtype}, got {got.dtype}"


@pytest.mark.ex1_1
def test_1_1_tanh_matches_torch() -> None:
    assert_matches("tanh", tanh(SMALL), torch.tanh(SMALL), SMALL)


@pytest.mark.ex1_1
def test_1_1_tanh_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("tanh", tanh)


@pytest.mark.ex1_1
def test_1_1_tanh_of_large_inputs_is_plus_or_minus_one() -> None:
    x = torch.tensor([-100.0, 100.0])
    got = tanh(x)
    assert torch.isfinite(got).all(), (
        f"tanh([-100, 100]) should be [-1, 1], got {got.tolist()}: e^100 overflows float32 to inf, and inf/inf is nan"
    )
    assert torch.allclose(got, torch.tensor([-1.0, 1.0])), f"tanh([-100, 100]) should be [-1, 1], got {got.tolist()}"


@pytest.mark.ex1_2
def test_1_2_sigmoid_of_zero_is_one_half() -> None:
    got = sigmoid(torch.tensor(0.0))
    assert isinstance(got, Tensor), f"sigmoid should return a torch.Tensor, got {type(got).__name__}"
    assert got.item() == 0.5, f"sigmoid(0) should be 0.5, got {got.item()}"


@pytest.mark.ex1_2
def test_1_2_sigmoid_matches_torch() -> None:
    assert_matches("sigmoid", sigmoid(SMALL), torch.sigmoid(SMALL), SMALL)


@pytest.mark.ex1_2
def test_1_2_sigmoid_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("sigmoid", sigmoid)


@pytest.mark.ex1_2
def test_1_2_sigmoid_of_large_inputs_is_zero_or_one() -> None:
    x = torch.tensor([-200.0, 200.0])
    got = sigmoid(x)
    assert torch.isfinite(got).all() and torch.allclose(got, torch.tensor([0.0, 1.0])), (
        f"sigmoid([-200, 200]) should be [0, 1], got {got.tolist()}: does exp ever see a large positive number?"
    )


@pytest.mark.ex1_3
def test_1_3_relu_matches_torch() -> None:
    assert_matches("relu", relu(SMALL), F.relu(SMALL), SMALL)


@pytest.mark.ex1_3
def test_1_3_relu_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("relu", relu)


@pytest.mark.ex1_3
def test_1_3_relu_of_negatives_is_zero() -> None:
    got = relu(torch.tensor([-5.0, -0.1]))
    assert torch.equal(got, torch.zeros(2)), f"relu([-5, -0.1]) should be [0, 0], got {got.tolist()}"


@pytest.mark.ex1_4
def test_1_4_leaky_relu_matches_torch() -> None:
    assert_matches("leaky_relu", leaky_relu(SMALL), F.leaky_relu(SMALL), SMALL)


@pytest.mark.ex1_4
def test_1_4_leaky_relu_uses_negative_slope() -> None:
    got = leaky_relu(SMALL, negative_slope=0.2)
    assert_matches("leaky_relu(x, negative_slope=0.2)", got, F.leaky_relu(SMALL, negative_slope=0.2), SMALL)


@pytest.mark.ex1_4
def test_1_4_leaky_relu_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("leaky_relu", leaky_relu)


@pytest.mark.ex1_5
def test_1_5_hardtanh_matches_torch() -> None:
    assert_matches("hardtanh", hardtanh(SMALL), F.hardtanh(SMALL), SMALL)


@pytest.mark.ex1_5
def test_1_5_hardtanh_uses_min_val_and_max_val() -> None:
    got = hardtanh(SMALL, min_val=-2.0, max_val=0.5)
    expected = F.hardtanh(SMALL, min_val=-2.0, max_val=0.5)
    assert_matches("hardtanh(x, min_val=-2.0, max_val=0.5)", got, expected, SMALL)


@pytest.mark.ex1_5
def test_1_5_hardtanh_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("hardtanh", hardtanh)


@pytest.mark.ex1_6
def test_1_6_softplus_matches_torch() -> None:
    assert_matches("softplus", softplus(SMALL), F.softplus(SMALL), SMALL)


@pytest.mark.ex1_6
def test_1_6_softplus_uses_beta_and_threshold() -> None:
    got = softplus(SMALL, beta=2.0, threshold=1.5)
    expected = F.softplus(SMALL, beta=2.0, threshold=1.5)
    assert_matches("softplus(x, beta=2.0, threshold=1.5)", got, expected, SMALL)


@pytest.mark.ex1_6
def test_1_6_softplus_of_large_inputs_is_x() -> None:
    x = torch.tensor([50.0, 1000.0])
    got = softplus(x)
    assert torch.isfinite(got).all() and torch.equal(got, x), (
        f"softplus([50, 1000]) should be [50, 1000] (x itself above the threshold), got {got.tolist()}"
    )


@pytest.mark.ex1_6
def test_1_6_softplus_keeps_shape_and_dtype() -> None:
    assert_keeps_shape_and_dtype("softplus", softplus)
