"""Keep native libraries' informational chatter off the terminal.

TensorFlow's and LiteRT's C++ code write notices straight to file descriptor 2, past Python's
``sys.stderr`` and whatever their log-level settings say; :func:`filtered_stderr` drops the
lines one names and passes everything else on.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Drop the lines matching ``noise`` that native code writes to stderr inside the block.

    File descriptor 2 is redirected to a temporary file for the block; afterwards every line
    that does not match ``noise`` is passed on to ``sys.stderr``.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not noise.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
