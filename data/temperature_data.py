"""The book's thermometer measurements (given, not an exercise)."""

from pathlib import Path

import torch
from torch import Tensor

_HERE = Path(__file__).resolve().parent
# The CSV lies in data/ beside this file in a student release, and beside it in the course's data/.
DATA_PATH = next(
    (p for p in (_HERE / "data" / "temperature.csv", _HERE / "temperature.csv") if p.exists()),
    _HERE / "data" / "temperature.csv",
)


def load_temperature_data(path: Path = DATA_PATH) -> tuple[Tensor, Tensor]:
    """Read the 11 measurements: (t_c, t_u), each a float32 tensor of shape [11, 1].

    t_c holds the temperatures in Celsius, t_u the readings of the thermometer with unknown units.
    The shape [N, 1] is the batch layout nn.Linear expects (the book's `unsqueeze(1)`).
    """
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    t_c = torch.tensor([float(celsius) for celsius, _ in rows]).unsqueeze(1)
    t_u = torch.tensor([float(unknown) for _, unknown in rows]).unsqueeze(1)
    return t_c, t_u
