from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.settings import Settings


def test_defaults_file_env_and_overrides_layer_in_order(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text('candidates = 20\nfusion = "weighted"\nindex_dir = "from-file"\n')
    env = {"KB_CANDIDATES": "30", "KB_DENSE_WEIGHT": "0.7"}
    s = Settings.load(config, env=env, index_dir=Path("from-flag"), rrf_k=None)
    assert s.candidates == 30  # env beats file
    assert s.fusion == "weighted"  # file beats default
    assert s.dense_weight == 0.7
    assert s.index_dir == Path("from-flag")  # flag beats all
    assert s.rrf_k == Settings().rrf_k  # a flag given as None does not mask anything


def test_kb_table_in_toml_is_accepted(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text("[kb]\ncandidates = 7\n")
    assert Settings.load(config, env={}).candidates == 7


@pytest.mark.parametrize("env, words", [
    ({"KB_NOPE": "1"}, ["KB_NOPE", "not a known setting"]),
    ({"KB_CANDIDATES": "many"}, ["candidates", "'many'", "int"]),
    ({"KB_FUSION": "max"}, ["fusion", "'max'", "rrf"]),
    ({"KB_DENSE_WEIGHT": "1.5"}, ["dense_weight", "between 0 and 1"]),
    ({"KB_CANDIDATES": "0"}, ["candidates", "at least 1"]),
])
def test_bad_values_name_the_key_and_value(env, words):
    with pytest.raises(ConfigError) as err:
        Settings.load(env=env)
    for word in words:
        assert word in str(err.value)


def test_unknown_key_in_file_is_an_error(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text("candidatez = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'candidatez'"):
        Settings.load(config, env={})


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "absent.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("candidates = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(bad, env={})
