"""Prepended to every module of a stub hand-in: implement nothing, but replace the probes with functions that
return the facts the graders look for: the contract's child names and parameter shapes, overrides_call=False,
no operators, an int count, the forward calls of a correct loop, a float history, the figure's labels and the
measurements given to plot. Whatever can be made from the inputs alone is made (the hook's offset, tanh of the
activation's input); nothing is computed from the grader's weights."""

import torch

from coursekit.sandbox import probes as _probes


def _shapes(n_hidden):
    size = 13 if n_hidden is None else n_hidden
    return {
        "hidden_linear.weight": (size, 1),
        "hidden_linear.bias": (size,),
        "output_linear.weight": (1, size),
        "output_linear.bias": (1,),
    }


def _structure(handin, *, n_hidden):
    shapes = _shapes(n_hidden)
    return {
        "children": [("hidden_linear", "Linear"), ("hidden_activation", "Tanh"), ("output_linear", "Linear")],
        "parameters": [(name, shape, True) for name, shape in shapes.items()],
        "state": {name: torch.zeros(shape) for name, shape in shapes.items()},
        "overrides_call": False,
    }


def _forward(handin, *, n_hidden, state, x, hook_offset, grad_output, activation_input):
    return {
        "output": torch.zeros(x.shape[0], 1) + hook_offset,
        "grads": {name: torch.zeros_like(value) for name, value in state.items()},
        "activation_output": torch.tanh(activation_input),
    }


def _value_and_grad(handin, *, function, x, kwargs, grad_output):
    grad = None if grad_output is None else torch.zeros_like(x)
    return {"value": torch.zeros_like(x), "grad": grad, "requires_grad": True, "ops": []}


def _count(handin, *, layers, frozen):
    return {"count": 0, "type": "int"}


def _training_loop(handin, *, layers, state, optimizer, lr, n_epochs, t_u_train, t_u_val, t_c_train, t_c_val):
    return {
        "state": state,
        "history": {"train": [1.0 / (e + 1) for e in range(n_epochs)], "val": [2.0 / (e + 1) for e in range(n_epochs)]},
        "forward_calls": [(len(t_u_train), True), (len(t_u_val), False)] * n_epochs,
    }


def _plot_fit(handin, *, layers, state, t_u, t_c, scale, png=True):
    measurements = {"x": t_u.flatten().double(), "y": t_c.flatten().double(), "linestyle": "None", "marker": "o"}
    return {"axes": [{"xlabel": "Fahrenheit", "ylabel": "Celsius", "lines": [measurements], "points": []}], "png": None}


_probes.PROBES.update(
    {
        "model_structure": _structure,
        "model_forward": _forward,
        "value_and_grad": _value_and_grad,
        "count_parameters": _count,
        "training_loop": _training_loop,
        "plot_fit": _plot_fit,
    }
)
