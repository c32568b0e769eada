"""The public tests' fixtures: the book's readings, a fixed random state."""

import pytest
import torch
from torch import Tensor


@pytest.fixture
def readings() -> tuple[Tensor, Tensor]:
    """The chapter's 11 measurements (t_c, t_u), each float32 of shape [11]."""
    from thermometer_data import load_thermometer

    return load_thermometer()


@pytest.fixture(autouse=True)
def fixed_seed() -> None:
    """Every test starts from the same random state, so a result never depends on test order."""
    torch.manual_seed(0)
