"""Error paths a new user hits from the command line: one clear line, no traceback."""

from __future__ import annotations

import pytest
from conftest import make_music


@pytest.mark.parametrize(
    "action", [["ls"], ["embed"], ["similar", "title:chord-1"], ["index"]], ids=" ".join
)
def test_a_model_path_that_does_not_exist_is_one_error_line_naming_the_action(
    env, tmp_path, action
):
    music = make_music(tmp_path / "music", per_kind=1, seconds=4.0, kinds=["chord"])
    env.import_music(music[0].parent.parent)  # auto is off: nothing embedded
    missing = tmp_path / "no-such-model"
    env.write_config(model=str(missing))
    done = env.beet("deejai", *action)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"error: deejai {action[0]}:") or errors[0].startswith(
        "error: deejai:"
    )
    assert str(missing) in errors[0]
    assert "train" not in errors[0]


@pytest.mark.parametrize("option", [["--lookback", "-1"], ["--noise", "-0.5"]])
def test_a_negative_lookback_or_noise_is_a_clear_error(env, tmp_path, option):
    music = make_music(tmp_path / "music", per_kind=2, seconds=4.0, kinds=["chord"])
    env.import_music(music[0].parent.parent)
    env.write_config()
    assert env.beet("deejai", "embed").returncode == 0
    done = env.beet("deejai", "playlist", "title:chord-1", "-n", "1", *option)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    flag, typed = option
    assert f"error: deejai playlist: {flag} must be >= 0, not {typed}" in done.stderr


@pytest.mark.parametrize(
    "action, option",
    [("similar", "--creativity"), ("playlist", "--lookback"), ("mix", "--crossfade"),
     ("radio", "--ahead"), ("serve", "--max-upload"), ("train", "--speccy"), ("ls", "--missing")],
)  # fmt: skip
def test_each_action_shows_its_own_options(env, action, option):
    env.write_config()
    done = env.beet("deejai", action, "--help", probe=True)
    assert done.returncode == 0, done.stderr
    assert f"beet deejai {action}" in done.stdout and option in done.stdout
    assert done.stdout.splitlines()[-1] == "HEAVY="  # --help loads nothing heavy


def test_a_bad_setting_is_one_configuration_error_line(env):
    env.write_config(near_duplicate=-1)
    done = env.beet("deejai", "ls")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "configuration error: deejai.near_duplicate must be in [0, 2)" in done.stderr
    assert env.beet("ls").returncode == 0  # the plugin still loads for beets' own commands


def test_a_mistake_in_mix_or_train_stops_only_that_action(env):
    env.write_config("  mix:\n    crossfade: -1\n  train:\n    word2vec_epochs: lots\n")
    assert env.beet("deejai", "ls").returncode == 0  # ls never reads mix: nor train:
    mix = "configuration error: deejai.mix.crossfade must be >= 0"
    train = "configuration error: deejai.train.word2vec_epochs must be a whole number or auto"
    for action, line in ((["mix", "--dry-run", "title:x"], mix), (["train"], train)):
        done = env.beet("deejai", *action)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        errors = [x for x in done.stderr.splitlines() if "error" in x]
        assert len(errors) == 1 and errors[0].startswith(line), done.stderr
