"""Value checks shared by the envelope and its payloads: strings, numbers, timestamps and
JSON-shaped data.

Each check takes the dotted path of the value it checks, so that a rejection names the exact
field (`data.detections[2].score`) and says what would be accepted.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping, Sized
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import NoReturn

from detektor.domain.errors import ValidationError

# RFC 3339 section 5.6; the NOTE there allows a space or a lowercase 't' as the separator.
_RFC3339_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?"
    r"(?P<tz>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


# What every store can hold, checked at the door so that memory, SQLite and PostgreSQL give
# the same answer: PostgreSQL's jsonb refuses U+0000 and lone surrogates, its bigint and
# SQLite's INTEGER stop at 64 bits, and a bounded depth keeps every recursive walk (ours, the
# JSON encoders', the database's) far from Python's recursion limit.
MAX_DEPTH = 32  # nested objects and arrays, the `data` object itself being level 1
MAX_STRING = 65_536  # characters of one string value
MAX_KEY = 256  # characters of one object key
MAX_ITEMS = 10_000  # entries of one object or array
MAX_DATA_SIZE = 1_048_576  # characters of all strings and keys, plus one per value
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_FLOAT = 2.0**53  # past it a float holds only some integers

# reprlib cuts nesting and long containers short: a plain repr of a body nested 900 deep, or
# of a million-item list, would recurse too deep or cost more than the request is worth.
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = 78


def describe(value: object) -> str:
    """A short rendering of a rejected value for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        # repr of an int past 4300 digits raises; past 64 bits the digits help nobody.
        return f"an integer of {value.bit_length()} bits"
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def require_mapping(value: object, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"must be a JSON object, got {describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(field, f"keys must be strings, got {describe(key)}")
    return value


def require_str(value: object, field: str, *, non_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {describe(value)}")
    if non_empty and not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    return value


def require_int(value: object, field: str, *, minimum: int | None = None) -> int:
    # bool is an int subclass, but `true` in JSON is never meant as the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be an integer, got {describe(value)}")
    if not INT_MIN <= value <= INT_MAX:
        raise ValidationError(field, f"must be a 64-bit integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}, got {value}")
    return value


def require_number(
    value: object, field: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be a number, got {describe(value)}")
    # isfinite would convert a huge int to float and overflow; ints are finite anyway.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(field, f"must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}, got {describe(value)}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum}, got {describe(value)}")
    return value


def require_match(value: object, field: str, pattern: re.Pattern[str], hint: str) -> str:
    text = require_str(value, field, non_empty=False)
    if pattern.fullmatch(text) is None:
        raise ValidationError(field, f"{describe(text)} must be {hint}")
    return text


def parse_timestamp(value: object, field: str) -> datetime:
    """An RFC 3339 string with an offset, or an aware datetime, as an aware UTC datetime."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValidationError(field, "must carry a timezone; naive datetimes are ambiguous")
        return value.astimezone(UTC)
    example = "e.g. '2025-11-27T14:03:07.123Z'"
    if not isinstance(value, str):
        raise ValidationError(field, f"must be an RFC 3339 timestamp string, {example}")
    match = _RFC3339_RE.fullmatch(value)
    if match is None:
        raise ValidationError(
            field,
            f"{describe(value)} is not an RFC 3339 timestamp with a timezone "
            f"('Z' or '+HH:MM'), {example}",
        )
    tz_text = match["tz"]
    offset = timedelta(0)
    if tz_text not in ("Z", "z"):
        hours, minutes = int(tz_text[1:3]), int(tz_text[4:6])
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if tz_text[0] == "-" else 1)
        if hours > 23 or minutes > 59:
            raise ValidationError(field, f"{describe(value)} has an impossible UTC offset")
    # Go and others send nanoseconds; datetime holds microseconds, so extra digits are cut,
    # never rounded (rounding could carry into the next second).
    micros = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s']}"
        ).replace(microsecond=micros, tzinfo=timezone(offset))
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(
            field, f"{describe(value)} is not a valid date and time, {example}"
        ) from None


def format_timestamp(value: datetime) -> str:
    """Fixed-width UTC text (`2025-11-27T14:03:07.123000Z`), which sorts like the instants."""
    # isoformat, unlike strftime("%Y"), zero-pads years before 1000 on every platform.
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def require_text(value: str, field: str, what: str = "strings") -> str:
    """`value` when every store can hold it: no NUL and no lone surrogate."""
    if "\x00" in value:
        raise ValidationError(field, f"{what} must not contain the NUL character (U+0000)")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                field,
                f"{what} must be valid Unicode: lone surrogate {value[exc.start]!r} at index "
                f"{exc.start} (a JSON \\uD800-\\uDFFF escape must be one half of a pair)",
            ) from None
    return value


class _Freezer:
    """One walk over JSON-shaped data, counting its size against MAX_DATA_SIZE. The path to
    the value in hand is kept as a stack of keys and indexes, and written out only for an
    error: building it for every value would cost more than all the checks."""

    def __init__(self, root: str) -> None:
        self.size = 0
        self.path: list[str | int] = [root]

    def fail(self, message: str) -> NoReturn:
        root, *steps = self.path
        field = f"{root}" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in steps)
        raise ValidationError(field, message)

    def check_size(self) -> None:
        if self.size > MAX_DATA_SIZE:
            self.fail(f"data is larger than {MAX_DATA_SIZE} characters in all; send less")

    def text(self, value: str, what: str = "strings") -> str:
        if len(value) > (MAX_KEY if what == "keys" else MAX_STRING):
            limit = MAX_KEY if what == "keys" else MAX_STRING
            self.fail(f"{what} may hold at most {limit} characters, got {len(value)}")
        self.size += len(value)
        self.check_size()
        try:
            return require_text(value, "", what)
        except ValidationError as exc:
            self.fail(exc.message)

    def freeze(self, value: object, depth: int) -> object:
        self.size += 1
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, float):
            # json.dumps would write NaN, which PostgreSQL's jsonb and most parsers refuse; and
            # jsonb hands 1e20 back as the integer 100000000000000000000, which is not the
            # float's exact value (nor a 64-bit integer).
            if not math.isfinite(value):
                self.fail(f"must be a finite number, got {value}")
            if abs(value) > MAX_FLOAT:
                self.fail(
                    "floats must lie within ±2^53, where they are exact (I-JSON, RFC 7493); "
                    f"send a larger number as an integer or a string, got {describe(value)}"
                )
            return value
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                self.fail(f"integers must be 64-bit (-2^63 to 2^63-1), got {describe(value)}")
            return value
        frozen: object
        if isinstance(value, Mapping):
            self.container(value, depth)
            frozen = self.mapping(value, depth)
        elif isinstance(value, list | tuple):
            self.container(value, depth)
            frozen = self.items(value, depth)
        else:
            self.fail(f"must be JSON data, got {type(value).__name__}")
        self.check_size()
        return frozen

    def container(self, value: Sized, depth: int) -> None:
        if depth >= MAX_DEPTH:
            self.fail(f"data may nest objects and arrays at most {MAX_DEPTH} levels deep")
        if len(value) > MAX_ITEMS:
            self.fail(f"objects and arrays may hold at most {MAX_ITEMS} entries")

    def mapping(self, value: Mapping[object, object], depth: int) -> Mapping[str, object]:
        out: dict[str, object] = {}
        for key in value:  # all keys first: the path of a nested error is built from them
            if not isinstance(key, str):
                self.fail(f"keys must be strings, got {describe(key)}")
            out[self.text(key, "keys")] = None
        path = self.path
        for key in out:
            path.append(key)
            out[key] = self.freeze(value[key], depth + 1)
            path.pop()
        return MappingProxyType(out)

    def items(self, value: list[object] | tuple[object, ...], depth: int) -> tuple[object, ...]:
        out: list[object] = []
        path = self.path
        for i, item in enumerate(value):
            path.append(i)
            out.append(self.freeze(item, depth + 1))
            path.pop()
        return tuple(out)


def freeze_json(value: object, field: str) -> object:
    """A deep, read-only copy of JSON-shaped data; anything JSON or a store cannot carry, and
    anything beyond the limits above, is rejected naming the path of the value at fault."""
    return _Freezer(field).freeze(value, 0)


def thaw_json(value: object) -> object:
    """The inverse of freeze_json: plain dicts and lists, ready for json.dumps."""
    if isinstance(value, Mapping):
        return {k: thaw_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(v) for v in value]
    return value
