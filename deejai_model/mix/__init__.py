"""Rendered mixes: tracks joined into one continuous, loudness-matched audio file.

Modules, one job each:

- :mod:`.source`: decode one file (or a span of it) to stereo float32 blocks at the mix rate;
- :mod:`.filters`: a streaming libavfilter graph (the EBU R128 meter) through PyAV;
- :mod:`.limiter`: the look-ahead true-peak limiter (numpy);
- :mod:`.loudness`: per-track integrated loudness and true peak, and the gain they call for;
- :mod:`.crossfade`: fade curves (equal-power crossfades, edge fades);
- :mod:`.encode`: the output file by extension (mp3, m4a, ogg/opus, flac, wav) and its chapters;
- :mod:`.tracklist`: CUE sheet and plain-text tracklist;
- :mod:`.excerpt`: which section of each track to use, from its slice vectors;
- :mod:`.render`: the streaming renderer that ties them together.

Nothing here imports beets; PyAV and mutagen are imported inside functions.
"""

from deejai_model.mix.render import MixEntry, MixOptions, MixResult, MixTrack, plan_mix, render_mix

__all__ = ["MixEntry", "MixOptions", "MixResult", "MixTrack", "plan_mix", "render_mix"]
