"""Attack: write into the output folder, another student's scratch and the repository."""


def tanh(paths):
    results = []
    for path in paths:
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write("tampered")
            results.append("written")
        except OSError as error:
            results.append(f"failed: {type(error).__name__}")
    return results
