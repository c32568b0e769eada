"""Prepended to every module of a stub hand-in: try to fake success by patching the process's own tools."""

import builtins
import json
import pickle
import sys

import torch
import torch.testing

try:
    import pytest

    pytest.fail = lambda *args, **kwargs: None
    pytest.approx = lambda *args, **kwargs: True
except ImportError:
    pass
torch.testing.assert_close = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
json.dumps = lambda *args, **kwargs: '{"score": 100, "tests": []}'
json.dump = lambda obj, fp, *args, **kwargs: fp.write('{"score": 100, "tests": []}')
_real_dumps = pickle.dumps
pickle.dump = lambda obj, file, *args, **kwargs: file.write(_real_dumps({"ok": {"score": 100}}))
builtins.AssertionError = type("NeverRaised", (Exception,), {})
sys.modules["coursekit.grade.plugin"] = None  # type: ignore[assignment]
