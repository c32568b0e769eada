"""The book's thermometer readings for chapter 5 (given, not an exercise)."""

from pathlib import Path

import torch
from torch import Tensor

_HERE = Path(__file__).resolve().parent
# The CSV lies in data/ beside this file in a student release, and beside it in the course's data/.
DATA_PATH = next(
    (p for p in (_HERE / "data" / "thermometer.csv", _HERE / "thermometer.csv") if p.exists()),
    _HERE / "data" / "thermometer.csv",
)


def load_thermometer(path: Path = DATA_PATH) -> tuple[Tensor, Tensor]:
    """Read the 11 measurements: (t_c, t_u), each a float32 tensor of shape [11].

    t_c holds the temperatures in Celsius, t_u the readings of the thermometer with unknown units (section 5.2).
    """
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    t_c = torch.tensor([float(celsius) for celsius, _ in rows])
    t_u = torch.tensor([float(unknown) for _, unknown in rows])
    return t_c, t_u
