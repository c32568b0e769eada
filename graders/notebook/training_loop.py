"""The notebook's test cell for training_loop: the history it returns, and that it is the loop's own."""

import math

import torch
import torch.nn.functional as F
from training import training_loop

t_u_all = torch.linspace(2.0, 9.0, 12).unsqueeze(1)
t_c_all = 5.0 * t_u_all - 10.0 + 0.5 * torch.sin(7.0 * t_u_all)
val_rows = torch.tensor([1, 4, 7, 10])
train_rows = torch.tensor([0, 2, 3, 5, 6, 8, 9, 11])
t_u_train, t_u_val = t_u_all[train_rows], t_u_all[val_rows]
t_c_train, t_c_val = t_c_all[train_rows], t_c_all[val_rows]

torch.manual_seed(0)
model = torch.nn.Linear(1, 1)
history = training_loop(
    n_epochs=50,
    optimizer=torch.optim.SGD(model.parameters(), lr=1e-2),
    model=model,
    loss_fn=torch.nn.MSELoss(),
    t_u_train=t_u_train,
    t_u_val=t_u_val,
    t_c_train=t_c_train,
    t_c_val=t_c_val,
)
assert isinstance(history, dict) and sorted(history) == ["train", "val"], (
    f'training_loop must return {{"train": [...], "val": [...]}}, got {type(history).__name__}'
)
assert len(history["train"]) == 50 and len(history["val"]) == 50, (
    f"50 epochs give 50 losses in each list, got {len(history['train'])} and {len(history['val'])}"
)
assert all(type(v) is float for v in history["train"] + history["val"]), (
    "the history must hold Python floats: use loss.item(), a list of tensors keeps every graph alive"
)
assert history["train"][-1] < history["train"][0], "the training loss did not fall over 50 epochs of SGD"
### BEGIN HIDDEN TESTS


class RecordingSGD(torch.optim.SGD):
    """SGD that records, before each step, the parameters and whether .grad is this epoch's training gradient."""

    def __init__(self, model: torch.nn.Module, lr: float) -> None:
        super().__init__(model.parameters(), lr=lr)
        self.model = model
        self.parameters_before: list[dict[str, torch.Tensor]] = []
        self.fresh_gradients: list[bool] = []

    def step(self, closure: None = None) -> None:  # type: ignore[override]
        parameters = list(self.model.parameters())
        with torch.enable_grad():
            loss = F.mse_loss(self.model(t_u_train), t_c_train)
            expected = torch.autograd.grad(loss, parameters)
        self.fresh_gradients.append(
            all(
                p.grad is not None and torch.allclose(p.grad, g, rtol=1e-4, atol=1e-6)
                for p, g in zip(parameters, expected, strict=True)
            )
        )
        self.parameters_before.append({name: p.detach().clone() for name, p in self.model.named_parameters()})
        return super().step(closure)


n_epochs = 100
torch.manual_seed(1)
model = torch.nn.Linear(1, 1)
optimizer = RecordingSGD(model, lr=1e-2)
history = training_loop(
    n_epochs=n_epochs,
    optimizer=optimizer,
    model=model,
    loss_fn=torch.nn.MSELoss(),
    t_u_train=t_u_train,
    t_u_val=t_u_val,
    t_c_train=t_c_train,
    t_c_val=t_c_val,
)
steps = len(optimizer.parameters_before)
assert steps == n_epochs, f"optimizer.step() ran {steps} times in {n_epochs} epochs: step once per epoch"
stale = [epoch for epoch, fresh in enumerate(optimizer.fresh_gradients, start=1) if not fresh]
assert not stale, (
    f"at epoch {stale[0]}, .grad was not the gradient of that epoch's training loss: did you forget "
    "optimizer.zero_grad() (gradients then add up epoch after epoch), or let the validation loss take part "
    "in backward() (compute it under torch.no_grad())?"
)
final = {name: p.detach().clone() for name, p in model.named_parameters()}
after = [*optimizer.parameters_before[1:], final]


def loss_at(parameters: dict[str, torch.Tensor], t_u: torch.Tensor, t_c: torch.Tensor) -> float:
    with torch.no_grad():
        return F.mse_loss(torch.func.functional_call(model, parameters, (t_u,)), t_c).item()


for epoch, (before, stepped) in enumerate(zip(optimizer.parameters_before, after, strict=True)):
    expected_train = loss_at(before, t_u_train, t_c_train)
    assert math.isclose(history["train"][epoch], expected_train, rel_tol=1e-5, abs_tol=1e-6), (
        f"history['train'][{epoch}] = {history['train'][epoch]} is not the training loss of epoch {epoch + 1} "
        f"({expected_train}, from the model before that epoch's step)"
    )
    candidates = (loss_at(before, t_u_val, t_c_val), loss_at(stepped, t_u_val, t_c_val))
    assert any(math.isclose(history["val"][epoch], v, rel_tol=1e-5, abs_tol=1e-6) for v in candidates), (
        f"history['val'][{epoch}] = {history['val'][epoch]} is not the validation loss of epoch {epoch + 1}: "
        "is it computed on t_u_val and t_c_val with loss_fn?"
    )
### END HIDDEN TESTS
