"""A libavfilter graph run as a stream through PyAV: planar float blocks in, blocks out."""

from __future__ import annotations

from typing import Any

import numpy as np


class AudioFilter:
    """One filter (``"ebur128"``, ``"alimiter"``...) between a buffer source and a sink.

    Parameters
    ----------
    name : str
        libavfilter filter name.
    args : str
        Its options, libavfilter syntax (``"key=value:key=value"``).
    sample_rate : int
        Hz of the blocks pushed.
    channels : int
        1 or 2.
    """

    def __init__(self, name: str, args: str, *, sample_rate: int, channels: int = 2):
        import av.filter

        self.sample_rate = int(sample_rate)
        self.layout = "stereo" if channels == 2 else "mono"
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(
            format="fltp", sample_rate=self.sample_rate, layout=self.layout
        )
        node = self._graph.add(name, args)
        planar = self._graph.add("aformat", "sample_fmts=fltp")  # blocks come out as they go in
        sink = self._graph.add("abuffersink")
        source.link_to(node)
        node.link_to(planar)
        planar.link_to(sink)
        self._graph.configure()
        self._pts = 0
        self.metadata: dict[str, str] = {}

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        """Filter ``block`` (``(channels, n)`` float32); returns the blocks that came out."""
        import av

        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=self.layout
        )
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += block.shape[1]
        self._graph.push(frame)
        return self._pull()

    def finish(self) -> list[np.ndarray]:
        """Flush the filter; returns what it still held."""
        self._graph.push(None)
        return self._pull()

    def _pull(self) -> list[np.ndarray]:
        import av

        out = []
        while True:
            try:
                frame: Any = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return out
            if frame.metadata:
                self.metadata = dict(frame.metadata)
            out.append(frame.to_ndarray())
