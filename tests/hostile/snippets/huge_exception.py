"""Appended to activations.py: softplus raises with an 8 MB message made of characters that escaping grows."""


def softplus(x, beta=1.0, threshold=20.0):
    raise NotImplementedError("</blockquote>&" * 600_000)
