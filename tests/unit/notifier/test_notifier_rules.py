"""Rules: labels, top score and required zones; zones moved to the objects stage (a clear
error), required zones checked against them; the polygon checks the objects stage uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from detektor.cli import main
from detektor.services.notifier.rules import (
    BELOW_MIN_SCORE,
    LABEL_NOT_CONFIGURED,
    OUTSIDE_REQUIRED_ZONES,
    CameraRules,
    polygon_problem,
)
from detektor.services.notifier.service import required_zone_problems
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


def test_rules_count_and_announce_by_label_top_score_and_required_zones() -> None:
    rules = CameraRules(("person", "car"), min_score=0.5, required_zones=("porch", "path"))
    assert rules.counted("person", 0.5)
    assert not rules.counted("person", 0.49)
    assert not rules.counted("dog", 0.99)
    assert rules.reason("dog", 0.99, ["porch"]) == LABEL_NOT_CONFIGURED
    assert rules.reason("person", 0.3, ["porch"]) == BELOW_MIN_SCORE
    assert rules.reason("person", 0.9, ["drive"]) == OUTSIDE_REQUIRED_ZONES
    assert rules.reason("person", 0.9, ["drive", "path"]) is None
    assert CameraRules(("person",)).reason("person", 0.1, []) is None  # no zones: anywhere


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


def test_settings_errors_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="must match"):
        NotifierSettings.model_validate({"cameras": {"Front Door": {}}})
    with pytest.raises(ValidationError, match="repeat"):
        NotifierSettings(labels=["person", "Person"])
    with pytest.raises(ValidationError, match="topic names"):
        NotifierSettings(labels=["events"])
    with pytest.raises(ValidationError, match="topic names"):
        NotifierSettings(labels=["zones"])
    with pytest.raises(ValidationError, match="wildcards"):
        NotifierSettings(state_prefix="detektor/#")
    with pytest.raises(ValidationError, match="zone name 'Porch!' must match"):
        NotifierSettings.model_validate({"cameras": {"front-door": {"required_zones": ["Porch!"]}}})


def test_notifier_zones_stop_the_start_saying_where_zones_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "detektor.yml"
    config.write_text(
        "notifier:\n  cameras:\n    front-door:\n      zones:\n"
        "        porch: [[0, 0], [100, 0], [100, 100]]\n"
    )
    monkeypatch.setenv("DETEKTOR_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"notifier\.cameras\.front-door.*zones moved") as err:
        load_settings()
    assert "objects.cameras.<camera>.zones" in str(err.value)
    assert "required_zones" in str(err.value)
    assert main(["config", "show"]) == 2
    assert "zones moved" in capsys.readouterr().err


def test_required_zones_must_be_zones_of_the_objects_stage() -> None:
    porch = {"points": [[0, 0], [100, 0], [100, 100]]}
    settings = load_settings(
        notifier={"cameras": {"front-door": {"required_zones": ["porch", "gate"]}}},
        objects={"cameras": {"front-door": {"zones": {"porch": porch}}}},
    )
    assert required_zone_problems(settings) == [
        "notifier.cameras.front-door.required_zones: 'gate' is not a zone of "
        "objects.cameras.front-door.zones (it has: porch)"
    ]
    fine = load_settings(
        notifier={"cameras": {"front-door": {"required_zones": ["porch"]}}},
        objects={"cameras": {"front-door": {"zones": {"porch": porch}}}},
    )
    assert required_zone_problems(fine) == []


def test_a_required_zone_nobody_draws_stops_serve_notifier() -> None:
    from detektor.services.notifier.service import build

    settings = load_settings(
        mqtt_url="mqtt://127.0.0.1:1883",
        notifier={"cameras": {"front-door": {"required_zones": ["porch"]}}},
    )
    with pytest.raises(ConfigError, match="it has: none"):
        build(settings)


def test_settings_reach_the_rules() -> None:
    from detektor.adapters.event_sinks import MemoryEventSink
    from detektor.kit.metrics import Metrics
    from detektor.services.notifier.metrics import NotifierMetrics
    from detektor.services.notifier.publisher import Notifier

    porch = {"points": [[0, 0], [100, 0], [100, 100]]}
    settings = load_settings(
        notifier={
            "min_score": 0.2,
            "cameras": {"porch": {"labels": ["person"], "required_zones": ["steps"]}},
        },
        objects={"cameras": {"porch": {"zones": {"steps": porch}}, "yard": {}}},
        cameras=[{"name": "drive", "source": "synthetic://", "labels": ["car"]}],
    )
    notifier = Notifier(settings, NotifierMetrics(Metrics("t", "0")), MemoryEventSink())
    rules = notifier.rules("porch")
    assert rules == CameraRules(("person",), 0.2, ("steps",))
    assert notifier.rules("drive").labels == ("car",)  # the camera's own labels
    assert notifier.rules("garden").labels == ("person", "car", "dog", "cat")
    assert set(notifier.states) == {"porch", "drive", "yard"}
    assert notifier.states["porch"].zones == ["steps"]  # its entities exist before anyone enters
