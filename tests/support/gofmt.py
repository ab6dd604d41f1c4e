"""Go's text forms, for a stand-in that must answer byte for byte as a Go server would:
``encoding/json`` (compact, HTML-escaped, floats in the ES6 form, ``[]byte`` as base64,
NaN/Inf refused), ``time.Duration.String`` and ``time.Time.String``/RFC 3339 in UTC."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def go_json(value: Any) -> bytes:
    """``json.Marshal(value)``; ValueError for NaN or infinities, which Go refuses too."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8", "replace")


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(go_float(value))
    elif isinstance(value, str):
        out.append(_HTML_RE.sub(lambda m: _HTML[m.group()], json.dumps(value, ensure_ascii=False)))
    elif isinstance(value, bytes):
        out.append('"' + base64.b64encode(value).decode() + '"')
    elif isinstance(value, dict):
        out.append("{")
        for n, (key, item) in enumerate(value.items()):
            if n:
                out.append(",")
            _encode(str(key), out)
            out.append(":")
            _encode(item, out)
        out.append("}")
    else:
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _encode(item, out)
        out.append("]")


def go_float(f: float) -> str:
    """A float64 as encoding/json writes it: shortest digits, exponent only below 1e-6 or from
    1e21 on (``e-07`` written ``e-7``)."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(
            f"json: unsupported value: {'NaN' if f != f else '+Inf' if f > 0 else '-Inf'}"
        )
    if f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21):
        return re.sub(r"e-0(\d)$", r"e-\1", repr(f))
    text = format(Decimal(repr(f)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def go_duration(ns: int) -> str:
    """``time.Duration(ns).String()``: 1.5ms, 999ns, 2m0.5s, 1h0m0s."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_frac(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_frac(u, 6)}ms"
    minutes, rest = divmod(u, 60 * 1_000_000_000)
    text = _frac(rest, 9) + "s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = (f"{hours}h" if hours else "") + f"{minutes}m" + text
    return sign + text


def _frac(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    tail = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def go_time(ns: int) -> str:
    """``time.Unix(0, ns).UTC().String()``: 2024-01-31 05:28:29.209712 +0000 UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    tail = f"{frac:09d}".rstrip("0")
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}{'.' + tail if tail else ''} +0000 UTC"


def go_rfc3339(ns: int) -> str:
    """A UTC time as encoding/json writes a ``time.Time`` (RFC 3339 with nanoseconds)."""
    secs, frac = divmod(ns, 1_000_000_000)
    tail = f"{frac:09d}".rstrip("0")
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}{'.' + tail if tail else ''}Z"
