"""Attack: start detached processes that try to outlive the session."""

import os
import subprocess
import sys


def tanh(marker):
    code = "import time\nwhile True: time.sleep(1)"
    subprocess.Popen([sys.executable, "-c", code, marker], start_new_session=True)
    if os.fork() == 0:  # a double fork that leaves its own session
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", code, marker])
        os._exit(0)
    return "started"
