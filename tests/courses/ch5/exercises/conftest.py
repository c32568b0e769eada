"""Shared setup for the public tests: nothing is written into this folder, the book's readings are a fixture."""

import sys

import pytest
import torch
from torch import Tensor

# No __pycache__ folders in your hand-in.
sys.dont_write_bytecode = True


@pytest.fixture
def readings() -> tuple[Tensor, Tensor]:
    """The chapter's 11 measurements (t_c, t_u), each float32 of shape [11]."""
    from thermometer_data import load_thermometer

    return load_thermometer()


@pytest.fixture(autouse=True)
def fixed_seed() -> None:
    """Every test starts from the same random state, so a result never depends on test order."""
    torch.manual_seed(0)
