"""What keeps the plugin's commands fast on a big library without changing what they print.

``beet deejai ls`` sets its ``deejai_vectors`` field on an item only when the line shows it
(setting a field costs beets a walk over every tag name, 1.5x ``beet ls`` at 100k items); a
``format_item`` of the configuration that shows it still gets it.  Synthetic vectors: fast.
"""

from __future__ import annotations

import numpy as np
from vector_rows import add_rows, deejai_plugin


def _model(env) -> str:
    return deejai_plugin().session(env.lib).model.model_id


def test_ls_shows_the_vectors_state_where_format_item_asks_for_it(env):
    ids = add_rows(env, deejai_plugin().store(env.lib), _model(env), 3, np.random.default_rng(0))
    bare = env.add_item(title="bare", path="/music/bare.flac")
    env.config["format_item"] = "$title=$deejai_vectors"
    out, _ = env.run_output("deejai", "ls")
    lines = sorted(line.split("  [vectors")[0] for line in out.splitlines() if line)
    # rows of synthetic files with another mtime: "stale"; the item without a row: "no"
    assert lines == sorted([*(f"t{i}=stale" for i in range(len(ids))), "bare=no"]), out
    env.config["format_item"] = "$title"
    out, _ = env.run_output("deejai", "ls", "-f", "$title|$deejai_vectors")
    assert "bare|no" in out.splitlines()
    assert bare.id not in ids
