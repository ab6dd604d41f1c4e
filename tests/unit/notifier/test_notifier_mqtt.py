"""The broker URL: schemes, ports, credentials (and that they never show)."""

from __future__ import annotations

import pytest

from detektor.services.notifier.mqtt import broker_from
from detektor.services.notifier.settings import NotifierSettings
from detektor.settings import ConfigError


def test_plain_and_tls_urls() -> None:
    plain = broker_from("mqtt://ha:pa%40ss@broker.lan", NotifierSettings(consumer="box"))
    assert (plain.host, plain.port, plain.tls) == ("broker.lan", 1883, False)
    assert (plain.username, plain.password) == ("ha", "pa@ss")
    assert plain.client_id == "detektor-notifier-box"
    assert plain.shown == "mqtt://ha:***@broker.lan"
    assert "pa@ss" not in repr(plain)
    tls = broker_from("mqtts://broker.lan:9883", NotifierSettings(client_id="me"))
    assert (tls.port, tls.tls, tls.username, tls.client_id) == (9883, True, None, "me")
    assert broker_from("mqtts://b", NotifierSettings()).port == 8883


def test_settings_credentials_override_the_url() -> None:
    cfg = NotifierSettings.model_validate({"username": "svc", "password": "s3cret"})
    broker = broker_from("mqtt://ha:old@b:1883", cfg)
    assert (broker.username, broker.password) == ("svc", "s3cret")


@pytest.mark.parametrize("url", ["http://b:1883", "mqtt://", "mqtt://b:notaport", "b:1883"])
def test_unusable_urls_are_config_errors_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="DETEKTOR_MQTT_URL") as err:
        broker_from(
            url.replace("//", "//u:hunter2@", 1) if "//" in url else url, NotifierSettings()
        )
    assert "hunter2" not in str(err.value)


def test_tls_client_certificates_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="together"):
        NotifierSettings.model_validate({"tls_cert_file": "/c.pem"})
