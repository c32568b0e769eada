"""# Putting it together: figure 6.9

Not graded. With your `split_indices`, `TemperatureNet`, `training_loop` and `plot_fit`, this cell fits the
book's 11 measurements (the data cell's `t_c` and `t_u`) as section 6.3 does: the readings scaled by 0.1, a
shuffled split, 3000 epochs of SGD with a learning rate of 1e-3, then the fit drawn as in figure 6.9. Run it once
your exercises pass their tests; a training loss that stops falling, or a curve far from the points, points back
at an exercise.
"""

# t_c and t_u are the notebook's data cell's columns (float32, shape [11, 1]), defined there, not here.
# ruff: noqa: F821
# mypy: disable-error-code="name-defined"
import torch
from model import TemperatureNet
from torch import nn, optim
from training import plot_fit, split_indices, training_loop

torch.manual_seed(0)
train_indices, val_indices = split_indices(len(t_u), generator=torch.Generator().manual_seed(0))
t_un = 0.1 * t_u
seq_model = TemperatureNet(n_hidden=13)
history = training_loop(
    n_epochs=3000,
    optimizer=optim.SGD(seq_model.parameters(), lr=1e-3),
    model=seq_model,
    loss_fn=nn.MSELoss(),
    t_u_train=t_un[train_indices],
    t_u_val=t_un[val_indices],
    t_c_train=t_c[train_indices],
    t_c_val=t_c[val_indices],
)
print(f"after 3000 epochs: training loss {history['train'][-1]:.4f}, validation loss {history['val'][-1]:.4f}")
plot_fit(seq_model, t_u, t_c)
