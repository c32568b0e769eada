"""Exercise 3: a shuffled train/validation split, the training loop, and a plot of the fit."""

import matplotlib

matplotlib.use("Agg")  # draw off-screen: no display is needed to make the figure
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn


def split_indices(
    n_samples: int, val_fraction: float = 0.2, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Shuffle the indices 0..n_samples-1 and split them into (train_indices, val_indices).

    n_val = int(val_fraction * n_samples); perm = torch.randperm(n_samples, generator=generator);
    the validation indices are the last n_val entries of perm, the training indices the rest
    (all of perm when n_val == 0). Both are int64 tensors of shape [n_train] and [n_val].
    """
    ### BEGIN SOLUTION
    n_val = int(val_fraction * n_samples)
    perm = torch.randperm(n_samples, generator=generator)
    n_train = n_samples - n_val
    return perm[:n_train], perm[n_train:]
    ### END SOLUTION


def training_loop(
    n_epochs: int,
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    loss_fn: nn.Module,
    t_u_train: Tensor,
    t_u_val: Tensor,
    t_c_train: Tensor,
    t_c_val: Tensor,
) -> dict[str, list[float]]:
    """Train `model` for n_epochs full-batch steps; return the loss history.

    Each epoch: one forward pass on the training inputs, the training loss, optimizer.zero_grad(),
    backward(), optimizer.step(); and the validation loss, computed under torch.no_grad() (it must
    never take part in the gradient). Returns {"train": [...], "val": [...]}, one Python float per
    epoch in each list (use loss.item(): a list of tensors would keep every graph alive).
    """
    ### BEGIN SOLUTION
    history: dict[str, list[float]] = {"train": [], "val": []}
    for epoch in range(1, n_epochs + 1):
        loss_train = loss_fn(model(t_u_train), t_c_train)
        with torch.no_grad():
            loss_val = loss_fn(model(t_u_val), t_c_val)
        optimizer.zero_grad()
        loss_train.backward()
        optimizer.step()
        history["train"].append(loss_train.item())
        history["val"].append(loss_val.item())
        if epoch == 1 or epoch % 1000 == 0:
            print(f"Epoch {epoch}, Training loss {loss_train.item():.4f}, Validation loss {loss_val.item():.4f}")
    return history
    ### END SOLUTION


def plot_fit(model: nn.Module, t_u: Tensor, t_c: Tensor, scale: float = 0.1) -> Figure:
    """The book's figure 6.9: the measurements as points and the model's curve.

    t_u and t_c come as the data loader gives them: float32 of shape [N, 1], t_u in unscaled unknown
    units. Plot t_c against t_u as points, and the model's prediction over the inputs 20, 21, ..., 89
    (fed to the model as `scale * input`, shape [70, 1]) as a line; label the x axis "Fahrenheit" and
    the y axis "Celsius" (a label that says the unit, such as "Temperature (°F)", is fine too).
    Return the figure.
    """
    ### BEGIN SOLUTION
    t_range = torch.arange(20.0, 90.0).unsqueeze(1)
    fig, ax = plt.subplots()
    ax.set_xlabel("Fahrenheit")
    ax.set_ylabel("Celsius")
    ax.plot(t_u.flatten().numpy(), t_c.flatten().numpy(), "o")
    with torch.no_grad():
        ax.plot(t_range.numpy(), model(scale * t_range).numpy(), "c-")
    return fig
    ### END SOLUTION
