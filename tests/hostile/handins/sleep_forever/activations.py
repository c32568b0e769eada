"""Attack: never return, sleeping."""

import time


def tanh(x):
    time.sleep(10**6)
