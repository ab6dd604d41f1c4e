"""Signed links: a URL that opens one resource until it expires, without the API token.

A link is ``<path>?<other params, sorted>&exp=<unix s>&sig=<urlsafe base64 HMAC-SHA256>``;
the HMAC covers ``<path>[?<other params, sorted, url-encoded>]\\n<exp>``, so neither the
path, a parameter (``crop=1``) nor the expiry can be changed. The key is
``DETEKTOR_LINK_SECRET`` or, unset, one generated once into ``<data_dir>/link-secret`` so
that links survive a restart (ADR 19).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

from detektor.settings import ConfigError, Settings

log = logging.getLogger(__name__)

SECRET_FILE = "link-secret"  # noqa: S105 (a file name, not a password)
MIN_SECRET_CHARS = 16
_RESERVED = ("exp", "sig")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/": left as they are
_EXP_RE = re.compile(r"0|[1-9][0-9]{0,11}")
_FILE_SECRET_RE = re.compile(rb"[0-9a-f]{64}\n?")


class LinkSigner:
    """Signs and checks links with one HMAC-SHA256 key."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a link secret must not be empty")
        self._key = secret

    def sign(self, path: str, ttl_s: float, now: float | None = None) -> str:
        """``path`` (as the app sees it, not percent-encoded; it may carry a query, e.g.
        ``?crop=1``) with ``exp`` and ``sig`` added, valid for ``ttl_s`` seconds from
        ``now``, percent-encoded where it must be."""
        base, _, query = path.partition("?")
        params = parse_qsl(query, keep_blank_values=True)
        names = [k for k, _ in params]
        if set(names) & set(_RESERVED):
            raise ValueError(f"{path!r} already has exp or sig; sign the bare path")
        if len(set(names)) != len(names):
            raise ValueError(f"{path!r} repeats a query parameter")
        exp = int((time.time() if now is None else now) + ttl_s)
        others = sorted(params)
        sig = self._sign(base, others, exp)
        query = urlencode([*others, ("exp", str(exp)), ("sig", sig)])
        return f"{quote(base, safe=_PATH_SAFE)}?{query}"

    def verify(self, path: str, query: Mapping[str, str], now: float | None = None) -> str | None:
        """None when ``query`` holds a valid, unexpired signature of ``path`` with the other
        parameters of ``query``; otherwise why not."""
        exp_text, sig = query.get("exp"), query.get("sig")
        if not exp_text or not sig:
            return "missing exp/sig"
        if _EXP_RE.fullmatch(exp_text) is None:
            return "malformed exp: a unix time in whole seconds"
        others = sorted((k, v) for k, v in query.items() if k not in _RESERVED)
        expected = self._sign(path, others, int(exp_text))
        # compare_digest refuses non-ASCII text; such a signature is not ours anyway.
        if not sig.isascii() or not hmac.compare_digest(sig.encode(), expected.encode()):
            return "bad signature"
        if int(exp_text) <= (time.time() if now is None else now):
            return "link expired"
        return None

    def _sign(self, path: str, params: list[tuple[str, str]], exp: int) -> str:
        target = f"{path}?{urlencode(params)}" if params else path
        mac = hmac.new(self._key, f"{target}\n{exp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_url(base_url: str | None, signer: LinkSigner, path: str, ttl_s: float) -> str | None:
    """The absolute signed link to ``path`` (an app path such as
    ``/v1/objects/<id>/snapshot.jpg?crop=1``), or None when no public base URL is known.
    A base URL with a path (``https://host/detektor``) needs a proxy that strips it: the
    signature covers the path the app sees."""
    if not base_url:
        return None
    return base_url.rstrip("/") + signer.sign(path, ttl_s)


def load_link_secret(settings: Settings) -> bytes:
    """``settings.link_secret``, else the key kept in ``<data_dir>/link-secret``, generated
    there (mode 0600, atomically, never over another process's) on first use."""
    if settings.link_secret is not None:
        given = settings.link_secret.get_secret_value()
        if len(given) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"link_secret (DETEKTOR_LINK_SECRET) must be at least {MIN_SECRET_CHARS} "
                "characters; a short key lets anyone holding one link guess it"
            )
        return given.encode()
    path = settings.data_dir / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    _create_secret(path)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read the link secret {path} ({exc.strerror})") from exc
    if _FILE_SECRET_RE.fullmatch(raw) is None:
        raise ConfigError(
            f"{path} is not a link secret (64 hex digits); delete it to have a new one made "
            "(links given out so far stop working) or set DETEKTOR_LINK_SECRET"
        )
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by other users; chmod 600 it", path)
    # The key is the hex text itself, so DETEKTOR_LINK_SECRET=<the file's text> on another
    # instance signs the same links.
    return raw.strip()


def _create_secret(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link, not replace: two processes starting at once must end up with one key.
            os.link(tmp, path)
            log.info("generated a new link secret in %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot create the link secret {path} ({exc.strerror}); make data_dir "
            "writable or set DETEKTOR_LINK_SECRET"
        ) from exc
