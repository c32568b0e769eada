"""coursekit: an autograded course kit for Chapter 6 of *Deep Learning with PyTorch*."""

__version__ = "0.1.0"
