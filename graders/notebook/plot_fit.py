"""The notebook's test cell for plot_fit: one set of axes, labelled, showing the measurements and the model."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from training import plot_fit

model = torch.nn.Linear(1, 1)
figure = plot_fit(model, torch.tensor([[35.7], [55.9], [81.9]]), torch.tensor([[0.5], [14.0], [28.0]]))
plt.close("all")
assert isinstance(figure, Figure), f"plot_fit must return a matplotlib Figure, got {type(figure).__name__}"
### BEGIN HIDDEN TESTS
model = torch.nn.Linear(1, 1)
with torch.no_grad():
    model.weight.fill_(5.0)
    model.bias.fill_(-17.0)
t_u_points = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3])
t_c_points = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0])
for scale, t_u_given, t_c_given in [
    (0.1, t_u_points.unsqueeze(1), t_c_points.unsqueeze(1)),
    (0.05, t_u_points, t_c_points),
]:
    figure = plot_fit(model, t_u_given, t_c_given, scale=scale)
    axes = list(figure.axes)
    plt.close("all")
    where = f"plot_fit(model, t_u of shape {tuple(t_u_given.shape)}, ..., scale={scale})"
    assert len(axes) == 1, f"{where}: expected one set of axes, got {len(axes)}"
    ax = axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Fahrenheit", "Celsius"), (
        f"{where}: label the axes 'Fahrenheit' (x) and 'Celsius' (y), got {ax.get_xlabel()!r} and {ax.get_ylabel()!r}"
    )
    drawn = [
        (np.ravel(line.get_xdata()).astype(float), np.ravel(line.get_ydata()).astype(float)) for line in ax.get_lines()
    ]
    drawn += [(np.asarray(c.get_offsets())[:, 0], np.asarray(c.get_offsets())[:, 1]) for c in ax.collections]

    def shows(x: np.ndarray, y: np.ndarray, drawn: list[tuple[np.ndarray, np.ndarray]] = drawn) -> bool:
        return any(xs.shape == x.shape and np.allclose(xs, x) and np.allclose(ys, y, atol=1e-4) for xs, ys in drawn)

    assert shows(t_u_points.numpy(), t_c_points.numpy()), f"{where}: the measurements (t_u, t_c) are not plotted"
    inputs = torch.arange(20.0, 90.0)
    with torch.no_grad():
        curve = model(scale * inputs.unsqueeze(1)).flatten()
    assert shows(inputs.numpy(), curve.numpy()), (
        f"{where}: no line shows the model's prediction at 20, 21, ..., 89 (fed to the model as scale * input)"
    )
### END HIDDEN TESTS
