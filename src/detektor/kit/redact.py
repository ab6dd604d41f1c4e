"""Masking of secrets before anything is shown: config dumps, logs, metrics and API answers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "***"
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|key|auth|cred", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with its password and secret-looking query values replaced by ``***``.

    The user name and host stay visible: they are what a person needs to tell cameras and
    servers apart, and they are not secrets.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc, query = parts.netloc, parts.query
    if "@" not in netloc and not query:
        return url  # nothing to hide; urlunsplit would also mangle sqlite:///path
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if has_password else f"{user}@{hostport}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if _SECRET_QUERY_KEYS.search(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_secret(value: str) -> str:
    """A URL keeps its shape with credentials masked; any other secret is hidden whole."""
    return mask_url(value) if "://" in value else MASK


def redacted(model: BaseModel) -> dict[str, Any]:
    """The model as plain JSON-ready data, with every SecretStr masked."""
    result: dict[str, Any] = {}
    for name in type(model).model_fields:
        result[name] = _redact_value(getattr(model, name))
    return result


def _redact_value(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return mask_secret(value.get_secret_value())
    if isinstance(value, BaseModel):
        return redacted(value)
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
