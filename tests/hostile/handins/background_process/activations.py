"""Attack: start detached processes that try to outlive the session.

Each carries the marker: in its command line where it can run a new program, else as its process name.
"""

import contextlib
import ctypes
import os
import subprocess
import sys
import time

PR_SET_NAME = 15


def tanh(marker):
    code = "import time\nwhile True: time.sleep(1)"
    with contextlib.suppress(OSError):  # the uid tier may not let it run the interpreter again
        subprocess.Popen([sys.executable, "-c", code, marker], start_new_session=True)
    if os.fork() == 0:  # a double fork that leaves its own session
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(PR_SET_NAME, marker[-15:].encode(), 0, 0, 0)
            with contextlib.suppress(OSError):
                os.execv(sys.executable, [sys.executable, "-c", code, marker])
            while True:
                time.sleep(1)
        os._exit(0)
    return "started"
