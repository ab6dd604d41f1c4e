"""The recording settings as a user writes them: defaults, the domain policy built from
them, and malformed values refused with the field named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detektor.domain.recordings import RecordMode, RecordPolicy
from detektor.services.recordings.settings import RecordingsSettings, RecordSettings


def test_defaults_build_the_domains_default_policy() -> None:
    assert RecordSettings().policy() == RecordPolicy()
    settings = RecordingsSettings()
    assert settings.max_bytes is None
    assert settings.min_free_bytes > 0
    assert settings.default.policy() == RecordPolicy()
    assert settings.sweep_interval_s == 60


def test_a_camera_section_becomes_its_policy() -> None:
    section = RecordSettings.model_validate(
        {"mode": "objects", "retain_days": 1, "objects_retain_days": 14, "pre_s": 3, "post_s": 8}
    )
    assert section.policy() == RecordPolicy(RecordMode.OBJECTS, 1, 14, 3, 8)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"mode": "always"}, "mode"),
        ({"retain_days": -1}, "retain_days"),
        ({"retain_days": 1e9}, "retain_days"),
        ({"objects_retain_days": "forever"}, "objects_retain_days"),
        ({"retain_days": 10, "objects_retain_days": 5}, "objects_retain_days"),
        ({"pre_s": 3600}, "pre_s"),
        ({"post_s": -1}, "post_s"),
        ({"keep": 3}, "keep"),
    ],
)
def test_malformed_camera_sections_are_refused(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        RecordSettings.model_validate(values)


@pytest.mark.parametrize(
    "values",
    [
        {"min_free_bytes": -1},
        {"max_bytes": 0},
        {"max_bytes": "lots"},
        {"floor": 1},
        {"sweep_interval_s": 0},
        {"sweep_interval_s": "hourly"},
        {"sweep_interval_s": 1e9},
    ],
)
def test_malformed_volume_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RecordingsSettings.model_validate(values)


def test_the_clip_of_a_camera_uses_its_own_record_section() -> None:
    from detektor.services.recordings.serving import record_policy
    from detektor.settings import Settings

    settings = Settings(
        cameras=[
            {"name": "door", "source": "synthetic://", "record": {"pre_s": 9, "post_s": 3}},
            {"name": "yard", "source": "synthetic://"},
        ],
        recordings={"default": {"pre_s": 2, "post_s": 1}},
    )
    policy = record_policy(settings)
    assert (policy("door").pre_s, policy("door").post_s) == (9, 3)
    assert (policy("yard").pre_s, policy("elsewhere").post_s) == (2, 1)
