"""Attack: raise KeyboardInterrupt while being imported."""

raise KeyboardInterrupt
