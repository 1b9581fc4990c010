"""Fixed-size batches: what a compiled network or an allocated interpreter is fed.

A runner traces its function (Keras) or allocates its arena (LiteRT) once for one batch size;
slices are fed in chunks of that size, the last one zero-padded, and each padded row's output
dropped. A slice's vector never depends on its batch mates or the padding.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def fixed_batches(batch: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Chunks of ``size`` slices, the last zero-padded to ``size``.

    Parameters
    ----------
    batch : np.ndarray
        ``(n, *slice_shape)`` float32 slices.
    size : int
        Slices per chunk.

    Yields
    ------
    (int, np.ndarray)
        The chunk's first row in ``batch``, and the ``(size, *slice_shape)`` float32 chunk;
        keep the first ``n - start`` rows of its output.
    """
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        if len(chunk) < size:
            pad = np.zeros((size - len(chunk), *batch.shape[1:]), np.float32)
            chunk = np.concatenate([chunk, pad])
        yield start, chunk
