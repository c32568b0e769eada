"""The public tests' fixtures: the book's data, a fixed random state, figures drawn off-screen."""

import matplotlib
import pytest
import torch
from torch import Tensor

# Figures are drawn off-screen: the tests need no display and open no windows.
matplotlib.use("Agg")


@pytest.fixture
def book_data() -> tuple[Tensor, Tensor]:
    """The chapter's 11 measurements (t_c, t_u), each float32 of shape [11, 1]."""
    from temperature_data import load_temperature_data

    return load_temperature_data()


@pytest.fixture(autouse=True)
def fixed_seed() -> None:
    """Every test starts from the same random state, so a result never depends on test order."""
    torch.manual_seed(0)
