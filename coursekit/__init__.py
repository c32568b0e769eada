"""coursekit: an autograded course kit for *Deep Learning with PyTorch*; the course it grades is read from course.yml."""

__version__ = "0.1.0"
