"""Attack: import the reference solution by name and by path, and call it."""

import importlib
import importlib.util
import sys


def tanh(repository):
    found = []
    sys.path.insert(0, repository)
    try:
        found.append(importlib.import_module("solutions.activations").__file__)
    except Exception as error:
        found.append(f"failed: {type(error).__name__}")
    try:
        spec = importlib.util.spec_from_file_location("reference", f"{repository}/solutions/activations.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.append(module.__file__)
    except Exception as error:
        found.append(f"failed: {type(error).__name__}")
    return found
