"""The objects section of the config: what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import pytest

from detektor.settings import ConfigError, load_settings

PORCH = [[0, 300], [640, 300], [640, 480], [0, 480]]


def test_zones_and_labels_become_the_domains_settings() -> None:
    settings = load_settings(
        objects={
            "labels": {"car": {"threshold": 0.7, "stationary_iou": 0.8}},
            "max_disappeared_s": 3,
            "cameras": {"front-door": {"zones": {"porch": {"points": PORCH, "loitering_s": 60}}}},
        }
    )
    lifecycle = settings.objects.lifecycle()
    assert lifecycle.max_disappeared_s == 3
    assert lifecycle.for_label("car").threshold == 0.7
    assert lifecycle.for_label("car").stationary_iou == 0.8
    assert lifecycle.for_label("person").threshold == 0.6
    (porch,) = settings.objects.zones("front-door")
    assert porch.name == "porch"
    assert porch.loitering_s == 60
    assert porch.contains((320, 400))
    assert settings.objects.zones("elsewhere") == ()


@pytest.mark.parametrize(
    ("objects", "names"),
    [
        (
            {"cameras": {"front-door": {"zones": {"porch": {"points": [[0, 0], [1, 1]]}}}}},
            "3 points",
        ),
        (
            {
                "cameras": {
                    "front-door": {"zones": {"porch": {"points": [[0, 0], [9, 9], [9, 0], [0, 9]]}}}
                }
            },
            "cross",
        ),
        ({"cameras": {"front-door": {"zones": {"Porch Area": {"points": PORCH}}}}}, "zone name"),
        ({"cameras": {"Front Door": {}}}, "must match"),
        ({"labels": {"person": {"threshold": 1.5}}}, "objects.labels.person.threshold"),
        (
            {"cameras": {"front-door": {"zones": {"porch": {"points": PORCH, "inertia": 0}}}}},
            "inertia",
        ),
        ({"min_hits": 0}, "objects.min_hits"),
        ({"snapshots": {"max_bytes": 10}}, "objects.snapshots.max_bytes"),
        ({"surprise": 1}, "objects.surprise"),
    ],
)
def test_a_bad_objects_config_is_refused_naming_what_to_fix(
    objects: dict[str, object], names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(objects=objects)
    assert names in str(caught.value)
