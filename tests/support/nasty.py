"""Hypothesis strategies for hostile HTTP input: JSON bodies and raw query strings holding
huge integers, lone surrogates, NUL, deep nesting, wrong types, long strings, weird cursors
and timestamps, mixed with values that are almost right (so the code past the first check
is reached too)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

# Text of any code point, lone surrogates and NUL included (st.text() leaves surrogates out).
ANY_CHAR = st.characters(exclude_categories=())
any_text = st.text(ANY_CHAR, max_size=40)
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "\U0001f600",
    "\u202e",
    "é",
    "null",
    "-1",
    "1e400",
    "NaN",
    "Infinity",
    "'; DROP TABLE events; --",
]
BIG_INTS = [2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 10**30]
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e20, 2.0**53, -0.0])

# Large values are built by .map, so that Hypothesis never has to print them in a repr.
nasty_text = st.sampled_from(NASTY_TEXT) | any_text | st.just(70_000).map(lambda n: "x" * n)
nasty_int = (
    st.integers()
    | st.sampled_from(BIG_INTS)
    | st.sampled_from([4000, -4000]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1))
)
scalars = st.none() | st.booleans() | nasty_int | FLOATS | nasty_text


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# Deeper nesting goes in as raw text (raw_literals): json.dumps itself would recurse too deep.
deep = st.integers(min_value=28, max_value=40).map(nested)
json_values = (
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
        max_leaves=12,
    )
    | deep
)

CAMERAS = st.sampled_from(["cam", "front-door", "x" * 64, "x" * 65, "Front Door", "", "\ud800"])
LIFE = ("captured", "queued", "processing", "processed", "published", "completed")
VALID_TYPES = [f"frame.{t}" for t in (*LIFE, "skipped", "dropped", "failed")]
TYPES = st.sampled_from([*VALID_TYPES, "frame.exploded", "Frame.Captured"])
captured_ms = st.integers(min_value=0, max_value=9_999_999_999_999) | st.sampled_from(BIG_INTS)
frame_ids = (
    st.builds(lambda c, ms, seq: f"{c}:{ms}:{seq:06d}", CAMERAS, captured_ms, st.integers(0, 10**7))
    | st.sampled_from(NASTY_TEXT)
    | any_text
)
valid_frame_ids = st.builds(
    lambda c, ms, seq: f"{c}:{ms}:{seq:06d}",
    st.sampled_from(["cam", "front-door"]),
    st.integers(min_value=0, max_value=9_999_999_999_999),
    st.integers(min_value=0, max_value=999_999),
)
TIMES = [
    "2025-11-27T14:03:07.123Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "99999-01-01T00:00:00Z",
    "2025-02-30T00:00:00Z",
    "2025-11-27T24:00:00Z",
    "2025-11-27T14:03:07+24:00",
    "2025-11-27T14:03:07",
    "yesterday",
]
timestamps = (
    st.sampled_from(TIMES)
    | st.just(5000).map(lambda n: "2025-11-27T14:03:07." + "9" * n + "Z")
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
)
DATA = {
    "width": 640,
    "height": 480,
    "source": "rtsp",
    "stream": "s",
    "processor": "p",
    "batch_id": "b",
    "duration_ms": 1.5,
    "detections": [{"label": "person", "score": 0.5, "box": [1, 2, 3, 4]}],
    "target": "mqtt",
    "reason": "no_motion",
    "stage": "detector",
    "error": "boom",
}


def _valid_envelope(type_: str, camera: str, ms: int, seq: int, at: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "frame_id": f"{camera}:{ms}:{seq:06d}",
        "camera": camera,
        "occurred_at": at,
        "schema_version": 1,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "data": dict(DATA),  # every type's required fields at once; extra fields pass
    }


valid_envelopes = st.builds(
    _valid_envelope,
    st.sampled_from(VALID_TYPES),
    st.sampled_from(["cam", "front-door", "x" * 64]),
    st.integers(min_value=0, max_value=9_999_999_999_999),
    st.integers(min_value=0, max_value=999_999),
    st.sampled_from(["2025-11-27T14:03:07.123Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
ENVELOPE_KEYS = [*_valid_envelope("t", "c", 0, 0, "").keys(), "position", "\x00"]
# One bad value each: what a field may be replaced with, or dropped (None).
mutations = st.one_of(
    st.tuples(st.sampled_from(ENVELOPE_KEYS), json_values | nasty_text | st.none()),
    st.tuples(st.just("frame_id"), frame_ids),
    st.tuples(st.just("occurred_at"), timestamps),
    st.tuples(st.just("type"), TYPES),
    st.tuples(st.just("camera"), CAMERAS),
    st.tuples(st.sampled_from([f"data.{k}" for k in [*DATA, "extra"]]), json_values),
)


def _mutate(envelope: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    out = {**envelope, "data": dict(envelope["data"])}
    for key, value in changes:
        target, name = (out.get("data"), key[5:]) if key.startswith("data.") else (out, key)
        if not isinstance(target, dict):
            continue  # an earlier change replaced `data` itself: no field left to break
        if value is None and key not in ("trace_id", "span_id"):
            target.pop(name, None)
        else:
            target[name] = value
    return out


# Mostly valid events, each with a few fields broken: so both the checks and the store's
# append (valid events, late ones, duplicates of frames) are exercised.
envelopes = st.builds(_mutate, valid_envelopes, st.lists(mutations, max_size=2))


def _encode(value: object) -> bytes:
    # ensure_ascii writes lone surrogates as \ud800 escapes, as a client's JSON library would.
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def _splice(body: bytes, raw: bytes) -> bytes:
    """A valid body with one value replaced by a raw literal json.dumps cannot write."""
    return body.replace(b'"width": 640', b'"width": ' + raw, 1) if b'"width": 640' in body else raw


RAW_LITERALS = [b"1e99999", b"NaN", b"-Infinity", b"\xff\xfe", b"1" * 20, b"-" + b"9" * 19]
raw_literals = st.one_of(
    st.sampled_from(RAW_LITERALS),
    st.sampled_from([4400, 5000]).map(lambda n: b"9" * n),
    st.sampled_from([999, 5000]).map(lambda n: b"[" * n),
    st.sampled_from([31, 33, 500, 990, 5000]).map(lambda n: b'{"k": ' * n + b"1" + b"}" * n),
)
event_bodies = st.lists(envelopes, max_size=5).map(lambda es: _encode({"events": es}))
bodies = st.one_of(
    event_bodies,
    event_bodies,
    st.builds(_splice, event_bodies, raw_literals),
    json_values.map(lambda v: _encode({"events": v})),
    json_values.map(_encode),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"events": [{"data": [[[1]]]}]}']),
    st.sampled_from([3000, 100_000]).map(lambda n: b'{"events": ' + b"[" * n + b"]" * n + b"}"),
)


def _cursor(fields: list[Any]) -> str:
    return base64.urlsafe_b64encode(_encode(fields)).decode().rstrip("=")


# URLs stop at 64 KiB in the client (and at far less in uvicorn's HTTP parser).
query_text = st.sampled_from(NASTY_TEXT) | any_text | st.just(8000).map(lambda n: "q" * n)
cursors = st.one_of(
    st.lists(json_values, max_size=3).map(_cursor).filter(lambda c: len(c) < 20_000),
    st.tuples(timestamps, valid_frame_ids | frame_ids).map(lambda t: _cursor(list(t))),
    query_text,
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
)
# Query values are bytes on the wire: any bytes, not only UTF-8.
query_values = st.one_of(
    query_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    nasty_int.map(lambda i: str(i).encode()),
    st.just(5000).map(lambda n: b"9" * n),
    timestamps.map(str.encode),
    cursors.map(lambda c: c.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b"-1", b"0", b"1001", b"1000", str(2**63).encode(), b"\xff"]),
    st.binary(max_size=30),
)


def query_strings(names: list[str]) -> st.SearchStrategy[str]:
    """A raw query string over the route's parameter names (and some unknown ones), each
    value percent-encoded from arbitrary bytes."""
    names_ = st.sampled_from([*names, "x", "limit", "\x00"])
    pairs = st.lists(st.tuples(names_, query_values), max_size=4)
    return pairs.map(_query)


def _query(pairs: list[tuple[str, bytes]]) -> str:
    parts = [
        f"{quote_from_bytes(n.encode('utf-8', 'surrogatepass'))}={quote_from_bytes(v)}"
        for n, v in pairs
    ]
    return "&".join(parts)[:MAX_URL]


# The client refuses URLs past 64 KiB: cut there (a cut escape is one more bad input).
MAX_URL = 30_000
path_segments = st.one_of(
    frame_ids.map(lambda t: t.encode("utf-8", "surrogatepass")),
    query_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=30),
).map(lambda b: quote_from_bytes(b, safe=b":")[:MAX_URL] or "%00")
accept_headers = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


def param(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A query string of one parameter, for values a route must look at closely."""
    return values.map(lambda v: _query([(name, v.encode("utf-8", "surrogatepass"))]))
