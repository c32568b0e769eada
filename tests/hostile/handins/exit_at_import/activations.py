"""Attack: os._exit while being imported."""

import os

os._exit(3)
