"""The settings file: strict validation, one line per problem, listener binds."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.server import load_configuration
from unigate.settings import ListenerSettings, SettingsError, parse_bind, validate
from unigate_hookspecs import ListenerSpec


async def _noop(_connection) -> None:
    return None


SPECS = [ListenerSpec("hello", 7777, _noop)]


def test_defaults_validate() -> None:
    settings = validate("x.toml", {}, listeners=SPECS, plugin_models={})
    assert settings.server.data_dir == Path("unigate-data")
    assert settings.listener("hello") == ListenerSettings()


def test_every_problem_is_reported_with_file_key_and_reason() -> None:
    raw = {
        "server": {"data_dri": "x"},
        "listeners": {"hello": {"bind": ["127.0.0.1:99999"]}, "nosuch": {}},
        "logging": {"level": 9},
        "bogus": {},
    }
    with pytest.raises(SettingsError) as caught:
        validate("f.toml", raw, listeners=SPECS, plugin_models={})
    problems = caught.value.problems
    assert "f.toml: server.data_dri: unknown key" in problems
    assert any(p.startswith("f.toml: listeners.hello.bind: ") and "0..65535" in p for p in problems)
    assert any(p.startswith("f.toml: listeners.nosuch: no plugin declares") for p in problems)
    assert any(p.startswith("f.toml: logging.level: ") for p in problems)
    assert "f.toml: bogus: unknown section (no kernel part or enabled plugin owns it)" in problems
    assert len(problems) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:25", ("127.0.0.1", 25)), ("[::1]:0", ("::1", 0)), (":143", ("0.0.0.0", 143))],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize(
    "text", ["127.0.0.1", "127.0.0.1:x", "[::1]25", "host.example:25", "1.2.3.4:70000"]
)
def test_parse_bind_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bind(text)


def test_address_lists_are_checked() -> None:
    with pytest.raises(SettingsError) as caught:
        validate(
            "f.toml", {"protection": {"denied": ["10.0.0.0/33"]}}, listeners=SPECS, plugin_models={}
        )
    assert caught.value.problems[0].startswith("f.toml: protection.denied: ")


def test_plugin_section_is_validated_by_its_model(tmp_path: Path, hello_plugin) -> None:
    config = tmp_path / "u.toml"
    config.write_text('[plugins]\nenabled = []\n[hello]\ngreeting = "hi"\ncolour = 3\n')
    with pytest.raises(SettingsError) as caught:
        load_configuration(config, extra_plugins=[("hello", hello_plugin)])
    assert caught.value.problems == [f"{config}: hello.colour: unknown key"]
    config.write_text('[plugins]\nenabled = []\n[hello]\ngreeting = "hi"\n')
    settings, _, specs = load_configuration(config, extra_plugins=[("hello", hello_plugin)])
    assert settings.section("hello").greeting == "hi"
    assert [s.name for s in specs] == ["hello"]


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server\n")
    with pytest.raises(SettingsError) as caught:
        load_configuration(config)
    assert caught.value.problems[0].startswith(f"{config}: ")
