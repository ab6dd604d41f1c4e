"""support.gofmt against Go's documented output: ``time.Duration.String`` (the package
example prints 1h15m30.918273645s), ``encoding/json`` floats (ES6 form: exponent only below
1e-6 or from 1e21 on, ``e-07`` written ``e-7``), HTML escaping and ``[]byte`` as base64."""

from __future__ import annotations

import pytest

from support.gofmt import go_duration, go_float, go_json, go_rfc3339, go_time


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (6_626_613, "6.626613ms"),
        (-6_626_613, "-6.626613ms"),
        (2_000_000_000, "2s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
        (((3600 + 15 * 60 + 30) * 10**9) + 918_273_645, "1h15m30.918273645s"),
    ],
)
def test_durations_print_as_go_prints_them(ns: int, text: str) -> None:
    assert go_duration(ns) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (0.5, "0.5"),
        (-0.0, "-0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-10, "1.5e-10"),
        (0.87, "0.87"),
    ],
)
def test_floats_print_as_encoding_json_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_json_is_compact_html_escaped_and_refuses_nan() -> None:
    assert go_json({"a": [1, None, True, b"\x00\x01", "<b>&\u2028é"]}) == (
        b'{"a":[1,null,true,"AAE=","\\u003cb\\u003e\\u0026\\u2028\xc3\xa9"]}'
    )
    with pytest.raises(ValueError, match=r"json: unsupported value: NaN"):
        go_json([float("nan")])
    with pytest.raises(ValueError, match=r"unsupported value: \+Inf"):
        go_json([float("inf")])


def test_times_print_as_go_prints_utc_times() -> None:
    assert go_time(1_706_678_909_209_712_000) == "2024-01-31 05:28:29.209712 +0000 UTC"
    assert go_time(0) == "1970-01-01 00:00:00 +0000 UTC"
    assert go_rfc3339(1_706_678_909_209_712_001) == "2024-01-31T05:28:29.209712001Z"
