"""Value checks shared by the envelope and its payloads: strings, numbers, timestamps and
JSON-shaped data.

Each check takes the dotted path of the value it checks, so that a rejection names the exact
field (`data.detections[2].score`) and says what would be accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

from detektor.domain.errors import ValidationError

# RFC 3339 section 5.6; the NOTE there allows a space or a lowercase 't' as the separator.
_RFC3339_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?"
    r"(?P<tz>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def describe(value: object) -> str:
    """A short rendering of a rejected value for an error message."""
    text = repr(value)
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
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}, got {value}")
    return value


def require_number(
    value: object, field: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ValidationError(field, f"must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum}, got {value}")
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


def freeze_json(value: object, field: str) -> object:
    """A deep, read-only copy of JSON-shaped data; anything JSON cannot carry is rejected."""
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL's jsonb cannot hold U+0000; refusing it everywhere keeps stores alike.
            raise ValidationError(field, "must not contain the NUL character (U+0000)")
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # json.dumps would write NaN, which PostgreSQL's jsonb and most parsers refuse.
        return require_number(value, field)
    if isinstance(value, Mapping):
        mapping = require_mapping(value, field)
        for key in mapping:
            if "\x00" in key:
                raise ValidationError(field, "keys must not contain the NUL character (U+0000)")
        return MappingProxyType({k: freeze_json(v, f"{field}.{k}") for k, v in mapping.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(v, f"{field}[{i}]") for i, v in enumerate(value))
    raise ValidationError(field, f"must be JSON data, got {type(value).__name__}")


def thaw_json(value: object) -> object:
    """The inverse of freeze_json: plain dicts and lists, ready for json.dumps."""
    if isinstance(value, Mapping):
        return {k: thaw_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(v) for v in value]
    return value
