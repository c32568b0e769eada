"""Your own fit, as the book makes it: `python fit.py` trains your TemperatureNet with your training_loop on the
book's 11 measurements and saves the book's figure 6.9, drawn by your plot_fit, as fit.png.

The book's set-up: your split_indices keeps 20% of the measurements for validation, the inputs are scaled by 0.1,
SGD with lr 1e-3 runs 5000 epochs of nn.MSELoss. It needs exercises 2.1, 3.1, 3.2 and 3.3; nothing here is graded.
"""

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw into a file: no display needed
import torch
from temperature_data import load_temperature_data
from torch import nn, optim

N_EPOCHS = 5000
LEARNING_RATE = 1e-3
VAL_FRACTION = 0.2
SCALE = 0.1  # the book's normalisation: t_un = 0.1 * t_u
PROGRESS_EVERY = 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seeds the split and the initial weights (default 0)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "fit.png", help="the figure")
    arguments = parser.parse_args()
    torch.manual_seed(arguments.seed)
    try:
        from model import TemperatureNet
        from training import plot_fit, split_indices, training_loop

        t_c, t_u = load_temperature_data()
        train_indices, val_indices = split_indices(t_u.shape[0], val_fraction=VAL_FRACTION)
        t_un = SCALE * t_u
        model = TemperatureNet(n_hidden=13)
        optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE)
        print(
            f"Training your TemperatureNet for {N_EPOCHS} epochs (SGD, lr {LEARNING_RATE:g}) on "
            f"{len(train_indices)} measurements, validating on {len(val_indices)}"
        )
        history = training_loop(
            n_epochs=N_EPOCHS,
            optimizer=optimizer,
            model=model,
            loss_fn=nn.MSELoss(),
            t_u_train=t_un[train_indices],
            t_u_val=t_un[val_indices],
            t_c_train=t_c[train_indices],
            t_c_val=t_c[val_indices],
        )
        print(f"The history your training_loop returned, every {PROGRESS_EVERY} epochs:")
        for epoch in [1, *range(PROGRESS_EVERY, N_EPOCHS + 1, PROGRESS_EVERY)]:
            try:
                train_loss, val_loss = float(history["train"][epoch - 1]), float(history["val"][epoch - 1])
            except (KeyError, IndexError, TypeError, ValueError):
                print(f'  no loss for epoch {epoch}: return {{"train": [...], "val": [...]}}, one loss per epoch')
                break
            print(f"Epoch {epoch}, Training loss {train_loss:.4f}, Validation loss {val_loss:.4f}")
        figure = plot_fit(model, t_u, t_c, scale=SCALE)
    except NotImplementedError as error:
        print(f"fit.py needs exercises 2.1, 3.1, 3.2 and 3.3; not yet implemented: {error}", file=sys.stderr)
        return 1
    figure.savefig(arguments.out)
    print(f"wrote {arguments.out}: your model's curve beside the book's measurements (figure 6.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
