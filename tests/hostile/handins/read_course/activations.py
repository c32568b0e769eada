"""Attack: read the course's files beside the probes file the sandbox is given, and list their folders."""

import hashlib
import os


def tanh(paths):
    found = []
    for path in paths:
        try:
            if os.path.isdir(path):
                found.append(sorted(os.listdir(path)))
            else:
                with open(path, "rb") as file:
                    found.append("sha256:" + hashlib.sha256(file.read()).hexdigest())
        except OSError as error:
            found.append(f"failed: {type(error).__name__}")
    return found
