"""Signed links: what verifies, every way a link can be altered, and the link secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from detektor.kit.signing import (
    SECRET_FILE,
    LinkSigner,
    _create_secret,
    load_link_secret,
    signed_url,
)
from detektor.settings import ConfigError, Settings

NOW = 1_764_230_400.0
PATH = "/v1/objects/front-door:1764230400123:7/snapshot.jpg"
SIGNER = LinkSigner(b"k" * 32)


def split(link: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(link)
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


def test_a_signed_link_verifies_until_it_expires() -> None:
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    assert path == PATH
    assert query["exp"] == str(int(NOW + 60))
    assert SIGNER.verify(path, query, now=NOW) is None
    assert SIGNER.verify(path, query, now=NOW + 59) is None
    assert SIGNER.verify(path, query, now=NOW + 60) == "link expired"
    assert SIGNER.verify(path, query, now=NOW + 3600) == "link expired"


def test_signature_is_urlsafe_and_unpadded() -> None:
    _, query = split(SIGNER.sign(PATH, 60, now=NOW))
    assert len(query["sig"]) == 43
    assert set(query["sig"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_default_now_is_the_clock() -> None:
    path, query = split(SIGNER.sign(PATH, 60))
    assert SIGNER.verify(path, query) is None


def test_an_altered_path_fails() -> None:
    _, query = split(SIGNER.sign(PATH, 60, now=NOW))
    other = PATH.replace(":7/", ":8/")
    assert SIGNER.verify(other, query, now=NOW) == "bad signature"
    assert SIGNER.verify("/v1/cameras/front-door/latest.jpg", query, now=NOW) == "bad signature"


def test_an_altered_exp_fails() -> None:
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    later = {**query, "exp": str(int(query["exp"]) + 3600)}
    assert SIGNER.verify(path, later, now=NOW) == "bad signature"
    # An expired link made to look fresh is still refused as forged, not as expired.
    assert SIGNER.verify(path, later, now=NOW + 120) == "bad signature"


@pytest.mark.parametrize(
    "change",
    [
        lambda s: ("A" if s[0] != "A" else "B") + s[1:],
        lambda s: s[:-1],
        lambda s: s + "A",
        lambda s: s.upper(),
        lambda s: "é" * len(s),  # non-ASCII: refused, not a TypeError from compare_digest
        lambda s: "",
    ],
)
def test_an_altered_sig_fails(change) -> None:  # type: ignore[no-untyped-def]
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    query["sig"] = change(query["sig"])
    assert SIGNER.verify(path, query, now=NOW) in ("bad signature", "missing exp/sig")


def test_another_key_fails() -> None:
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    assert LinkSigner(b"x" * 32).verify(path, query, now=NOW) == "bad signature"


@pytest.mark.parametrize(
    "drop", [("exp",), ("sig",), ("exp", "sig")], ids=["no exp", "no sig", "neither"]
)
def test_missing_params_fail(drop: tuple[str, ...]) -> None:
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    for name in drop:
        del query[name]
    assert SIGNER.verify(path, query, now=NOW) == "missing exp/sig"


@pytest.mark.parametrize("exp", ["abc", "-1", "1e9", "1764230460.0", " 1764230460", "9" * 5000])
def test_malformed_exp_fails(exp: str) -> None:
    path, query = split(SIGNER.sign(PATH, 60, now=NOW))
    query["exp"] = exp
    assert SIGNER.verify(path, query, now=NOW) == "malformed exp: a unix time in whole seconds"


def test_query_params_are_part_of_the_signature() -> None:
    path, query = split(SIGNER.sign(PATH + "?crop=1", 60, now=NOW))
    assert query["crop"] == "1"
    assert SIGNER.verify(path, query, now=NOW) is None
    assert SIGNER.verify(path, {**query, "crop": "0"}, now=NOW) == "bad signature"
    without = {k: v for k, v in query.items() if k != "crop"}
    assert SIGNER.verify(path, without, now=NOW) == "bad signature"
    assert SIGNER.verify(path, {**query, "box": "0"}, now=NOW) == "bad signature"
    # A link signed without parameters cannot gain one.
    bare_path, bare = split(SIGNER.sign(PATH, 60, now=NOW))
    assert SIGNER.verify(bare_path, {**bare, "crop": "1"}, now=NOW) == "bad signature"


def test_params_are_signed_in_sorted_order() -> None:
    link = SIGNER.sign(PATH + "?z=1&a=2", 60, now=NOW)
    assert link.index("a=2") < link.index("z=1") < link.index("exp=") < link.index("sig=")
    path, query = split(link)
    assert SIGNER.verify(path, dict(reversed(list(query.items()))), now=NOW) is None


@pytest.mark.parametrize("path", [PATH + "?exp=1", PATH + "?sig=x", PATH + "?a=1&a=2"])
def test_sign_refuses_reserved_or_repeated_params(path: str) -> None:
    with pytest.raises(ValueError, match=r"exp or sig|repeats"):
        SIGNER.sign(path, 60)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        LinkSigner(b"")


def test_signed_url_joins_the_base() -> None:
    assert signed_url(None, SIGNER, PATH, 60) is None
    assert signed_url("", SIGNER, PATH, 60) is None
    url = signed_url("https://detektor.local:8000/", SIGNER, PATH, 60)
    assert url is not None
    assert url.startswith("https://detektor.local:8000" + PATH + "?exp=")
    parts = urlsplit(url)
    assert SIGNER.verify(parts.path, dict(parse_qsl(parts.query))) is None


# --- the link secret -----------------------------------------------------------------------


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(link_secret="a-long-enough-secret", data_dir=tmp_path)
    assert load_link_secret(settings) == b"a-long-enough-secret"
    assert not (tmp_path / SECRET_FILE).exists()


def test_short_configured_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        load_link_secret(Settings(link_secret="short", data_dir=tmp_path))


def test_secret_is_generated_once_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "dir"
    settings = Settings(data_dir=data_dir)
    first = load_link_secret(settings)
    path = data_dir / SECRET_FILE
    assert len(first) == 64
    assert int(first, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_link_secret(settings) == first  # a restart signs the same links
    assert sorted(p.name for p in data_dir.iterdir()) == [SECRET_FILE]  # no temporary left
    # The file's text as DETEKTOR_LINK_SECRET signs the same links on another instance.
    assert load_link_secret(Settings(link_secret=path.read_text().strip())) == first


def test_a_second_creator_keeps_the_first_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_link_secret(settings)
    _create_secret(tmp_path / SECRET_FILE)  # another process losing the race
    assert load_link_secret(settings) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRET_FILE]


@pytest.mark.parametrize(
    "content", [b"", b"abc", b"0" * 63, b"g" * 64, b"0" * 65, b"0" * 64 + b"\n\n", b"\xff" * 64]
)
def test_a_corrupt_secret_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / SECRET_FILE).write_bytes(content)
    with pytest.raises(ConfigError, match="is not a link secret"):
        load_link_secret(Settings(data_dir=tmp_path))


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"cannot (read|create) the link secret"):
        load_link_secret(Settings(data_dir=blocker))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("0" * 64)
    path.chmod(0)
    try:
        with pytest.raises(ConfigError, match="cannot read the link secret"):
            load_link_secret(Settings(data_dir=tmp_path))
    finally:
        path.chmod(0o600)


def test_the_link_is_percent_encoded_and_the_signature_covers_the_decoded_path() -> None:
    odd = "/v1/cameras/a b\n/latest.jpg"
    link = SIGNER.sign(odd + "?x=ä&y=1 2", 60, now=NOW)
    assert link.startswith("/v1/cameras/a%20b%0A/latest.jpg?x=%C3%A4&y=1+2&exp=")
    parts = urlsplit(link)
    assert parts.path != odd
    query = dict(parse_qsl(parts.query))
    assert SIGNER.verify(unquote(parts.path), query, now=NOW) is None
