"""Settings: sources, precedence, clear errors, masking in ``config show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detektor.cli import main
from detektor.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DETEKTOR_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.http_port == 8000
    assert settings.api_token is None
    assert settings.log.format == "auto"


def test_env_overrides_yaml_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "detektor.yml"
    config.write_text("http_port: 9001\nlog:\n  level: DEBUG\nexample:\n  step_bytes: 10\n")
    monkeypatch.setenv("DETEKTOR_CONFIG", str(config))
    monkeypatch.setenv("DETEKTOR_EXAMPLE__STEP_BYTES", "20")
    settings = load_settings()
    assert settings.http_port == 9001
    assert settings.log.level == "DEBUG"
    assert settings.example.step_bytes == 20


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DETEKTOR_HTTP_PORT": "abc"}, "http_port (DETEKTOR_HTTP_PORT): Input should be a valid"),
        ({"DETEKTOR_HTTP_PORT": "70000"}, "less than or equal to 65535"),
        ({"DETEKTOR_LOG__LEVEL": "LOUD"}, "log.level (DETEKTOR_LOG__LEVEL)"),
        ({"DETEKTOR_HTTP_PROT": "1"}, "DETEKTOR_HTTP_PROT: unknown setting"),
        ({"DETEKTOR_LOG__LEVL": "INFO"}, "log.levl: unknown setting"),
    ],
)
def test_bad_values_name_the_field(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_every_bad_field_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETEKTOR_HTTP_PORT", "x")
    monkeypatch.setenv("DETEKTOR_SHUTDOWN_TIMEOUT_S", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "http_port" in str(err.value)
    assert "shutdown_timeout_s" in str(err.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("http_port: [1,\n", "not valid YAML at line"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("htp_port: 1\n", "htp_port: unknown setting"),
        ("http_port: abc\n", "http_port (DETEKTOR_HTTP_PORT)"),
    ],
)
def test_bad_yaml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    config = tmp_path / "c.yml"
    config.write_text(content)
    monkeypatch.setenv("DETEKTOR_CONFIG", str(config))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expected in str(err.value)


def test_missing_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETEKTOR_CONFIG", str(tmp_path / "nope.yml"))
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_settings()


def test_config_show_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DETEKTOR_API_TOKEN", "tok-123456")
    monkeypatch.setenv("DETEKTOR_DATABASE_URL", "postgresql://det:pgpass@db:5432/detektor")
    monkeypatch.setenv("DETEKTOR_MQTT_URL", "mqtt://ha:mqttpass@broker:1883")
    assert main(["config", "show", "--format", "json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["api_token"] == "***"
    assert shown["database_url"] == "postgresql://det:***@db:5432/detektor"
    assert shown["mqtt_url"] == "mqtt://ha:***@broker:1883"
    for secret in ("tok-123456", "pgpass", "mqttpass"):
        assert secret not in out
    assert main(["config", "show"]) == 0
    assert "pgpass" not in capsys.readouterr().out


def test_config_show_with_bad_config_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DETEKTOR_HTTP_PORT", "abc")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "DETEKTOR_HTTP_PORT" in err


def test_database_url_scheme_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETEKTOR_DATABASE_URL", "mysql://root:pw@db/detektor")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "DETEKTOR_DATABASE_URL" in str(err.value)
    assert "postgresql://" in str(err.value)
    assert "pw" not in str(err.value)
