"""The plain install (``pip install beets-deejai``, or ``pipx inject beets beets-deejai``)
carries only what the main path needs: no TensorFlow, Keras, gensim, librosa, h5py or SciPy.

The requirements are read from ``setup.cfg`` as pip reads them (markers evaluated for the
platforms the shipped LiteRT runtime serves), and the main commands run through a real ``beet``
on a real library while an import hook refuses those modules, as if they were not installed.
``serve`` is driven over real HTTP.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import textwrap
import urllib.request

import pytest
from conftest import ROOT, DeejaiEnv, make_music
from packaging.requirements import Requirement
from system_tools import free_port, wait_for_port

#: What only training, the Keras runtime, beat-aligned mixes or the tests need.
HEAVY = ("tensorflow", "keras", "gensim", "librosa", "h5py", "scipy")

#: Python code run before beets starts: importing a heavy module fails as if not installed.
BLOCKER = textwrap.dedent(
    f"""
    import sys
    class _NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {HEAVY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None
    sys.meta_path.insert(0, _NotInstalled())
    """
)

#: Platforms of the plain install without TensorFlow (marker environments, as pip sees them).
PLATFORMS = {
    "linux-x86_64": {"platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"platform_system": "Linux", "platform_machine": "aarch64"},
    "macos-arm64": {"platform_system": "Darwin", "platform_machine": "arm64"},
}


def _requirements(key: str, extra: str | None = None) -> list[Requirement]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    text = setup["options"][key] if extra is None else setup["options.extras_require"][extra]
    return [Requirement(line) for line in text.splitlines() if line.strip()]


def _names(requirements: list[Requirement], platform: dict[str, str]) -> set[str]:
    return {
        r.name.lower()
        for r in requirements
        if r.marker is None or r.marker.evaluate({**platform, "extra": ""})
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_plain_install_carries_no_training_stack(platform):
    plain = _names(_requirements("install_requires"), PLATFORMS[platform])
    assert not {n for n in plain if n.startswith(HEAVY)}, plain
    # what the main path imports is declared
    assert {"ai-edge-litert", "av", "mutagen", "waitress", "annoy", "flask"} <= plain
    train = _names(_requirements("", "train"), PLATFORMS[platform])
    assert {"keras", "gensim", "h5py"} <= train and any(n.startswith("tensorflow") for n in train)
    # CI installs .[test]: it carries training and the beats too
    test = _names(_requirements("", "test"), PLATFORMS[platform])
    beats = _names(_requirements("", "beats"), PLATFORMS[platform])
    assert train | beats <= test


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> DeejaiEnv:
    """Six short tracks of two kinds in a library, not yet embedded."""
    music = make_music(tmp_path_factory.mktemp("music"), 3, 8.0, kinds=["chord", "fastclicks"])
    env = DeejaiEnv()
    env.setup_beets()
    env.config["deejai"]["auto"] = False  # embedded by the first test, through `beet`
    env.import_music(music[0].parent.parent)
    env.write_config()
    yield env
    env.teardown_beets()


def _beet(env: DeejaiEnv, *args: str) -> subprocess.CompletedProcess:
    done = env.beet(*args, probe=True, prelude=BLOCKER)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.rsplit("HEAVY=", 1)[1].strip().split(",")
    assert not set(loaded) & set(HEAVY), loaded
    return done


@pytest.mark.slow
def test_embed_and_queries_run_without_the_training_stack(plain):
    """``embed`` (LiteRT), ``similar``, ``journey`` and ``playlist`` with TensorFlow, Keras,
    gensim, librosa and h5py not importable."""
    done = _beet(plain, "deejai", "embed")
    assert "deejai: 6 embedded, 0 skipped, 0 failed" in done.stderr
    similar = _beet(
        plain, "deejai", "similar", "chord-1", "-n", "2", "--artist-gap", "0", "-f", "$title"
    )
    assert similar.stdout.splitlines()[:2] == ["chord-2", "chord-3"]
    journey = _beet(
        plain, "deejai", "journey", "chord-1", "fastclicks-3", "-n", "1", "-f", "$title"
    )
    lines = journey.stdout.splitlines()
    assert lines[0] == "chord-1" and "fastclicks-3" in lines
    playlist = _beet(plain, "deejai", "playlist", "chord-1", "-n", "2", "-f", "$title")
    assert "chord-1" in playlist.stdout


@pytest.mark.slow
def test_a_mix_renders_without_the_training_stack(plain, tmp_path):
    _beet(plain, "deejai", "embed")
    out = tmp_path / "mix.ogg"
    _beet(plain, "deejai", "mix", "chord-1", "fastclicks-1", "-o", str(out), "--crossfade", "2")
    assert out.stat().st_size > 10_000 and out.with_name(out.name + ".cue").is_file()


@pytest.mark.slow
def test_serve_answers_over_http_with_a_production_server(plain):
    """A real ``beet deejai serve`` on a free port, the training stack not importable: it
    answers the page and the API, and prints no "development server" warning."""
    _beet(plain, "deejai", "embed")
    port = free_port()
    env = dict(os.environ, BEETSDIR=str(plain.temp_path), HOME=str(plain.temp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    script = BLOCKER + "\nfrom beets.ui import main\nmain(sys.argv[1:])\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "deejai", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_port(port, 120), process.poll()
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
            assert page.headers.get("Server") == "beets-deejai"  # waitress, as configured
        seed = urllib.request.Request(
            base + "/api/seed",
            data=json.dumps({"query": "chord-1"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(seed, timeout=30) as answer:
            state = json.loads(answer.read())
        assert state["now"]["title"] == "chord-1"
        with urllib.request.urlopen(f"{base}/audio/{state['now']['id']}", timeout=30) as audio:
            assert audio.status == 200 and len(audio.read()) > 10_000
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"serving 6 tracks at http://127.0.0.1:{port}/" in out
    assert "development server" not in err.lower() and "development server" not in out.lower()
    assert "Traceback" not in err


def _refused(done: subprocess.CompletedProcess, extra: str) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "beets-deejai[" in line]
    assert len(lines) == 1 and f"pip install 'beets-deejai[{extra}]'" in lines[0], done.stderr
    return lines[0]


def test_train_without_the_train_extra_says_how_to_install_it(plain):
    done = plain.beet("deejai", "train", prelude=BLOCKER)
    line = _refused(done, "train")
    assert line.startswith("error: deejai train needs tensorflow, keras, gensim")
    assert "pipx inject beets 'beets-deejai[train]'" in line


def test_beat_aligned_mix_without_librosa_says_how_to_install_it(plain, tmp_path):
    out = tmp_path / "mix.ogg"
    done = plain.beet(
        "deejai", "mix", "chord-1", "chord-2", "-o", str(out), "--beat-align", prelude=BLOCKER
    )
    assert "deejai mix --beat-align needs librosa" in _refused(done, "beats")
    assert not out.exists()


def test_the_keras_runtime_without_tensorflow_says_how_to_install_it():
    code = BLOCKER + textwrap.dedent(
        """
        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.shipped import default_bundle_path
        from deejai_model.extras import MissingExtraError
        try:
            load_bundle(default_bundle_path(), runtime="keras").embed
        except MissingExtraError as error:
            print(error)
        """
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the Keras runtime (training, or embedding where LiteRT is not)")
    assert "needs tensorflow, keras," in done.stdout and "beets-deejai[train]" in done.stdout


def _imported_modules() -> dict[str, str]:
    """Top-level modules the packages import (at any depth, lazily too): name -> a file."""
    import ast

    found: dict[str, str] = {}
    for folder in ("deejai_model", "beetsplug/deejai"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_module_the_packages_import_is_declared():
    """What the code imports comes with the plain install (a requirement or one of theirs), or
    belongs to an extra whose absence the feature reports (``deejai_model.extras``)."""
    from importlib import metadata

    from deejai_model.extras import EXTRAS

    plain = _names(_requirements("install_requires"), PLATFORMS["linux-x86_64"])
    installed, queue = set(), list(plain)
    while queue:  # the plain requirements and everything they require
        name = queue.pop()
        if name in installed:
            continue
        installed.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(requirement.name.lower().replace("_", "-"))
    distributions = metadata.packages_distributions()
    extras = {module for modules in EXTRAS.values() for module in modules} | {"h5py"}
    undeclared = {}
    for module, where in _imported_modules().items():
        if module in sys.stdlib_module_names or module in ("deejai_model", "beetsplug"):
            continue
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & installed and module not in extras:
            undeclared[module] = where
    assert not undeclared, f"imported but not in the plain install: {undeclared}"
