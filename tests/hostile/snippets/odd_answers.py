"""Prepended to every module of a correct hand-in, after a line `ODD_SEED = <n>`: every probe's answer is plain
data of the wrong shape, type or layout (a string for a tensor, a dict for a list, an int tensor, a key missing or
added), so that a grader meeting it would raise if it trusted the answer's form. Malformed student data is the
student's failure: it may cost points, never raise a grader error.
"""

import torch

import coursekit.sandbox.probes

_ODD_VALUES = (
    None,
    "not a tensor",
    7,
    -1.5,
    float("nan"),
    [],
    {},
    (1, 2),
    [[1.0, 2.0], "x"],
    {"value": 1},
    torch.zeros(0),
    torch.ones(2, 3, dtype=torch.int64),
    torch.ones(5, 1, 1),
    torch.tensor(True),
    b"bytes",
    True,
)


def _odd(value, index):
    return _ODD_VALUES[(ODD_SEED + index) % len(_ODD_VALUES)]  # noqa: F821 - set by the line before this file


def _oddly(probe):
    calls = [0]

    def answer(handin, **arguments):
        real = probe(handin, **arguments)
        calls[0] += 1
        odd = dict(real)
        for position, key in enumerate(sorted(odd)):
            odd[key] = _odd(odd[key], calls[0] + position)
        if calls[0] % 3 == 0 and odd:
            odd.pop(sorted(odd)[0])  # a key missing
        odd[f"extra{calls[0]}"] = _odd(None, calls[0])
        return odd

    return answer


for _name, _probe in list(coursekit.sandbox.probes.PROBES.items()):
    coursekit.sandbox.probes.PROBES[_name] = _oddly(_probe)
