"""The tracklist written beside a mix: a CUE sheet and a plain text list with start times."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

#: CUE sheets count time in CD frames.
CUE_FRAMES_PER_SECOND = 75

_CUE_TYPES = {
    "mp3": "MP3",
    "wav": "WAVE",
    "flac": "WAVE",
    "m4a": "MP4",
    "ogg": "OGG",
    "opus": "OGG",
}


@dataclass(frozen=True)
class TracklistEntry:
    """One track of a mix. ``start`` is seconds from the start of the mix."""

    start: float
    artist: str
    title: str

    @property
    def label(self) -> str:
        """``"artist - title"`` (or the title alone)."""
        return f"{self.artist} - {self.title}" if self.artist else self.title


def clock(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour), to the nearest second."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def text_tracklist(entries: Sequence[TracklistEntry]) -> str:
    """One line per track: ``"m:ss  artist - title"``."""
    width = max((len(clock(e.start)) for e in entries), default=4)
    return "".join(f"{clock(e.start):>{width}}  {e.label}\n" for e in entries)


def _cue_quote(text: str) -> str:
    return '"' + text.replace('"', "'").replace("\n", " ") + '"'


def cue_index(seconds: float) -> str:
    """``mm:ss:ff`` of a CUE ``INDEX`` (minutes may pass 99 for long mixes)."""
    frames = int(round(seconds * CUE_FRAMES_PER_SECOND))
    minutes, rest = divmod(frames, 60 * CUE_FRAMES_PER_SECOND)
    secs, frame = divmod(rest, CUE_FRAMES_PER_SECOND)
    return f"{minutes:02d}:{secs:02d}:{frame:02d}"


def cue_sheet(entries: Sequence[TracklistEntry], audio_path: str, title: str = "") -> str:
    """A CUE sheet for the mix file ``audio_path`` (named by its base name, as players expect)."""
    name = os.path.basename(audio_path)
    kind = _CUE_TYPES.get(os.path.splitext(name)[1].lower().lstrip("."), "WAVE")
    lines = []
    if title:
        lines.append(f"TITLE {_cue_quote(title)}")
    lines.append(f"FILE {_cue_quote(name)} {kind}")
    for number, entry in enumerate(entries, start=1):
        lines.append(f"  TRACK {number:02d} AUDIO")
        lines.append(f"    TITLE {_cue_quote(entry.title)}")
        if entry.artist:
            lines.append(f"    PERFORMER {_cue_quote(entry.artist)}")
        lines.append(f"    INDEX 01 {cue_index(entry.start)}")
    return "\n".join(lines) + "\n"
