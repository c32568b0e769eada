"""The notebook's test cell for split_indices: sizes, dtypes, a partition, and the generator's permutation."""

import torch
from training import split_indices

train, val = split_indices(11)
assert isinstance(train, torch.Tensor) and isinstance(val, torch.Tensor), "split_indices returns two tensors"
assert train.shape == (9,) and val.shape == (2,), (
    f"11 samples with val_fraction=0.2 give 9 training and int(0.2 * 11) = 2 validation indices, "
    f"got {tuple(train.shape)} and {tuple(val.shape)}"
)
assert sorted(torch.cat([train, val]).tolist()) == list(range(11)), "every index 0..10 must appear exactly once"
### BEGIN HIDDEN TESTS
for n_samples, val_fraction in [(11, 0.2), (10, 0.5), (7, 0.0), (1, 0.2), (100, 0.3)]:
    train, val = split_indices(n_samples, val_fraction=val_fraction)
    expected_val = int(n_samples * val_fraction)
    where = f"split_indices({n_samples}, val_fraction={val_fraction})"
    assert val.shape == (expected_val,) and train.shape == (n_samples - expected_val,), (
        f"{where}: expected {n_samples - expected_val} training and {expected_val} validation indices, "
        f"got {tuple(train.shape)} and {tuple(val.shape)}"
    )
    assert train.dtype == torch.int64 and val.dtype == torch.int64, (
        f"{where}: indices must be int64, got {train.dtype} and {val.dtype}"
    )
    assert sorted(torch.cat([train, val]).tolist()) == list(range(n_samples)), (
        f"{where}: every index must appear exactly once, in one of the two"
    )
for seed in (0, 1, 2):
    train, val = split_indices(20, val_fraction=0.25, generator=torch.Generator().manual_seed(seed))
    order = torch.randperm(20, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(torch.cat([train, val]), order), (
        "with a generator, the split must come from one torch.randperm(n_samples, generator=generator): "
        "training indices first, the last n_val as validation"
    )
### END HIDDEN TESTS
