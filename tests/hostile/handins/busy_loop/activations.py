"""Attack: never return, burning CPU."""


def tanh(x):
    while True:
        pass
