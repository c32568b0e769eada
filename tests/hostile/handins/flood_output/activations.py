"""Attack: flood stdout and stderr."""

import sys


def tanh(x):
    line = "spam " * 200 + "\n"
    for _ in range(20_000):
        sys.stdout.write(line)
        sys.stderr.write(line)
    return x.tanh()
