"""What the mini-batch optimisers (SGD, SQN, Adam/RMSprop) share: option checks and the
batches of one shuffled epoch."""
import numpy as np


def check_count(value, name, minimum=1):
    """``value`` as an int >= minimum, else a ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_learning_rate(value):
    """None (the optimiser's default) or a finite number > 0."""
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {value!r}")
    return None if value is None else float(value)


def epoch_batches(rng, n_rows, batch_size):
    """Sorted row indices of each mini-batch of one epoch over a seeded permutation."""
    order = rng.permutation(n_rows)
    for start in range(0, n_rows, batch_size):
        yield np.sort(order[start:start + batch_size])
