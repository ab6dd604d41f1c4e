import pytest

from detektor.kit.redact import mask_secret, mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsp://admin@cam/stream", "rtsp://admin@cam/stream"),
        ("sqlite:///var/lib/detektor.db", "sqlite:///var/lib/detektor.db"),
        ("redis://:pw@redis:6379/0", "redis://:***@redis:6379/0"),
        ("http://cam/snap.jpg?user=a&password=b", "http://cam/snap.jpg?user=a&password=***"),
        ("http://cam/x?token=abc&q=1", "http://cam/x?token=***&q=1"),
        ("http://p:a@ss@host/", "http://p:***@host/"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_non_url_secret_is_hidden_whole() -> None:
    assert mask_secret("plain-token") == "***"
