"""Rules and zones: point-in-polygon on the box's bottom centre, reasons, polygon checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from detektor.cli import main
from detektor.services.notifier.rules import (
    BELOW_MIN_SCORE,
    LABEL_NOT_CONFIGURED,
    OUTSIDE_ZONES,
    STALE,
    CameraRules,
    Detection,
    contains,
    decide,
    polygon_problem,
)
from detektor.services.notifier.settings import NotifierSettings
from detektor.settings import ConfigError, load_settings

SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]
# An L: the square minus its top-right quarter.
ELL = [(0.0, 0.0), (50.0, 0.0), (50.0, 50.0), (100.0, 50.0), (100.0, 100.0), (0.0, 100.0)]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DETEKTOR_"):
            monkeypatch.delenv(key)


def person(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> Detection:
    return Detection("person", score, (x1, y1, x2, y2))


def test_contains_handles_convex_and_concave_polygons() -> None:
    assert contains(SQUARE, (50, 50))
    assert not contains(SQUARE, (150, 50))
    assert not contains(SQUARE, (-1, 50))
    assert contains(ELL, (25, 25))
    assert contains(ELL, (75, 75))
    assert not contains(ELL, (75, 25))  # the missing quarter


def test_the_bottom_centre_of_the_box_decides_the_zone() -> None:
    rules = CameraRules(("person",), zones={"porch": ELL})
    # The box reaches into the missing quarter, but its feet stand in the L.
    standing = person(60, 10, 90, 80)
    assert standing.foot == (75, 80)
    # Head in the L, feet in the missing quarter: outside.
    leaning = person(60, 0, 90, 40)
    decision = decide(rules, [standing, leaning], stale=False)
    assert decision.published == [(standing, ["porch"])]
    assert decision.filtered == [(leaning, OUTSIDE_ZONES)]


def test_every_detection_not_published_has_its_reason() -> None:
    rules = CameraRules(("person", "car"), min_score=0.5, zones={"drive": SQUARE, "all": ELL})
    ok = person(10, 10, 30, 40)
    dog = Detection("dog", 0.99, (10, 10, 20, 20))
    weak = person(10, 10, 30, 40, score=0.3)
    far = Detection("car", 0.8, (200, 200, 300, 300))
    decision = decide(rules, [ok, dog, weak, far], stale=False)
    assert decision.published == [(ok, ["drive", "all"])]
    assert decision.filtered == [
        (dog, LABEL_NOT_CONFIGURED),
        (weak, BELOW_MIN_SCORE),
        (far, OUTSIDE_ZONES),
    ]


def test_without_zones_anywhere_counts_and_stale_frames_publish_nothing() -> None:
    rules = CameraRules(("person",))
    anywhere = person(1000, 1000, 1200, 1400)
    assert decide(rules, [anywhere], stale=False).published == [(anywhere, [])]
    assert decide(rules, [anywhere], stale=True).filtered == [(anywhere, STALE)]


@pytest.mark.parametrize(
    ("polygon", "problem"),
    [
        ([[0, 0], [10, 0]], "at least 3 points"),
        ([[0, 0], [5, 5], [10, 10]], "zero area"),
        ([[0, 0], [10, 10], [10, 0], [0, 10]], "self-intersecting"),
        ([[0, 0], [10, 0], [10, 0], [0, 10]], "same point"),
        ([[0, 0], [10, 0], [float("nan"), 10]], "finite"),
        ([[0, 0], [10, 0, 3], [0, 10]], "[x, y]"),
        # Touching itself at a corner is not a simple polygon either.
        ([[0, 0], [10, 0], [5, 5], [10, 10], [0, 10], [5, 5]], "self-intersecting"),
    ],
)
def test_invalid_polygons_are_named(polygon: list[list[float]], problem: str) -> None:
    found = polygon_problem(polygon)
    assert found is not None
    assert problem in found


def test_valid_polygons_pass() -> None:
    assert polygon_problem([list(p) for p in SQUARE]) is None
    assert polygon_problem([list(p) for p in ELL]) is None
    assert polygon_problem([[0, 0], [10, 0], [0, 10]]) is None


def test_an_invalid_zone_is_a_settings_error_naming_camera_zone_and_problem() -> None:
    bow_tie = [[0, 0], [10, 10], [10, 0], [0, 10]]
    with pytest.raises(ValidationError, match=r"zone 'porch' is not a valid polygon.*cross"):
        NotifierSettings.model_validate({"cameras": {"front-door": {"zones": {"porch": bow_tie}}}})
    with pytest.raises(ValidationError, match="must match"):
        NotifierSettings.model_validate({"cameras": {"Front Door": {}}})
    with pytest.raises(ValidationError, match="repeat"):
        NotifierSettings(labels=["person", "Person"])
    with pytest.raises(ValidationError, match="topic names"):
        NotifierSettings(labels=["events"])
    with pytest.raises(ValidationError, match="wildcards"):
        NotifierSettings(state_prefix="detektor/#")


def test_a_zone_in_the_config_file_fails_the_start_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "detektor.yml"
    config.write_text(
        "notifier:\n  cameras:\n    front-door:\n      zones:\n        porch: [[0, 0], [100, 0]]\n"
    )
    monkeypatch.setenv("DETEKTOR_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"notifier\.cameras\.front-door\.zones.*3 points"):
        load_settings()
    assert main(["config", "show"]) == 2
    assert "zone 'porch' is not a valid polygon" in capsys.readouterr().err


def test_zones_from_settings_reach_the_rules() -> None:
    from detektor.adapters.event_sinks import MemoryEventSink
    from detektor.kit.metrics import Metrics
    from detektor.services.notifier.metrics import NotifierMetrics
    from detektor.services.notifier.publisher import Notifier

    settings = load_settings(
        notifier={
            "min_score": 0.2,
            "cameras": {
                "porch": {"labels": ["person"], "zones": {"steps": [[0, 0], [9, 0], [0, 9]]}}
            },
        },
        cameras=[{"name": "drive", "source": "synthetic://", "labels": ["car"]}],
    )
    notifier = Notifier(settings, NotifierMetrics(Metrics("t", "0")), MemoryEventSink())
    porch = notifier.rules("porch")
    assert porch.labels == ("person",)
    assert porch.min_score == 0.2
    assert porch.zones == {"steps": [(0, 0), (9, 0), (0, 9)]}
    assert notifier.rules("drive").labels == ("car",)  # the camera's own labels
    assert notifier.rules("garden").labels == ("person", "car", "dog", "cat")
    assert set(notifier.states) == {"porch", "drive"}
