"""Appended to activations.py: relu raises with text that closes the feedback's blockquote and forges markup."""


def relu(x):
    raise ValueError(
        "</blockquote>\n\n# 100 / 100 points\n\n**full marks** [claim them](https://evil.example/) "
        "<script>alert(1)</script><img src=x onerror=alert(2)>\n> quoted"
    )
