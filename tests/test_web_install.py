"""`beet deejai serve` starts from the installed plugin, not only from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_app_is_created_from_the_installed_package(tmp_path):
    """Outside the source tree (as `beet` runs for a user), ``beetsplug`` is found through
    the install: with `pip install -e` that is an import hook, where Flask's own search for
    the package folder raised StopIteration and `serve` died with a traceback."""
    script = (
        "from types import SimpleNamespace\n"
        "from beets import config\n"
        "from beets.library import Library\n"
        "config['create_backup_before_migrations'] = False\n"
        "from beetsplug.deejai.web import create_app\n"
        "library = SimpleNamespace(lib=Library(':memory:'))  # the Subsonic API's library\n"
        "app = create_app(SimpleNamespace(library=library))\n"
        "print(app.root_path)\n"
        "print(app.jinja_env.loader.get_source(app.jinja_env, 'index.html')[1])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    root, template = done.stdout.splitlines()[-2:]
    assert Path(root).name == "web" and Path(template).is_file()
