"""Attack: leave in every way Python offers, at call time."""

import os
import sys


def tanh(kind):
    if kind == "os._exit":
        os._exit(3)
    if kind == "sys.exit":
        sys.exit(0)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    raise SystemExit(1)
