from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from detektor.domain.accounting import Accounting, FrameSummary, account
from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.timeline import fold

from .builders import T0, make_event

E = EventType
STALE_AFTER = timedelta(seconds=30)


Step = tuple[EventType, float, Mapping[str, object] | None]


def frame_events(seq: int, *steps: Step) -> list[Envelope]:
    frame = FrameId("porch", 1764252187000 + seq, seq)
    return [make_event(t, at, data, frame=frame) for t, at, data in steps]


def summarise(*frames: list[Envelope]) -> list[FrameSummary]:
    return [fold(enumerate(events)).summary() for events in frames]


CAPTURED: Step = (E.CAPTURED, 0, None)
QUEUED: Step = (E.QUEUED, 10, None)
PROCESSING: Step = (E.PROCESSING, 20, None)
PROCESSED: Step = (E.PROCESSED, 30, None)
COMPLETED: Step = (E.COMPLETED, 40, None)


def skipped(reason: str) -> Step:
    return (E.SKIPPED, 5, {"reason": reason})


def dropped(reason: str) -> Step:
    return (E.DROPPED, 15, {"reason": reason})


def scenario() -> list[FrameSummary]:
    failed: Step = (E.FAILED, 25, {"stage": "detector", "error": "boom"})
    return summarise(
        frame_events(1, CAPTURED, QUEUED, PROCESSING, PROCESSED, COMPLETED),
        frame_events(2, CAPTURED, QUEUED, PROCESSING, PROCESSED, COMPLETED),
        frame_events(3, CAPTURED, QUEUED, PROCESSING, PROCESSED, (E.PUBLISHED, 35, None)),
        frame_events(4, CAPTURED, skipped("no_motion")),
        frame_events(5, CAPTURED, skipped("no_motion")),
        frame_events(6, CAPTURED, skipped("masked")),
        frame_events(7, CAPTURED, QUEUED, dropped("bus_full")),
        frame_events(8, CAPTURED, dropped("shutdown")),
        frame_events(9, CAPTURED, QUEUED, PROCESSING, failed),
        # Stuck: no event since T0 + 10 ms.
        frame_events(10, CAPTURED, QUEUED),
        frame_events(11, CAPTURED, (E.QUEUED, 40_000, None)),
    )


def test_a_mixed_camera_adds_up_but_its_stale_frames_unbalance_it() -> None:
    now = T0 + timedelta(seconds=60)
    result = account("porch", scenario(), now, STALE_AFTER)
    assert result == Accounting(
        camera="porch",
        captured=11,
        completed=2,
        skipped={"no_motion": 2, "masked": 1},
        dropped={"bus_full": 1, "shutdown": 1},
        failed=1,
        in_flight=3,
        stale=2,  # frames 3 and 10; frame 11 moved 20 s ago
        orphans=0,
    )
    assert (result.skipped_total, result.dropped_total) == (3, 2)
    assert result.accounted == 11
    assert result.imbalance == 0
    assert not result.balanced  # frames 3 and 10 are stuck


def test_to_dict_has_the_api_fields_and_reason_breakdowns() -> None:
    result = account("porch", scenario(), T0 + timedelta(seconds=60), STALE_AFTER)
    assert result.to_dict() == {
        "camera": "porch",
        "captured": 11,
        "completed": 2,
        "skipped": 3,
        "dropped": 2,
        "failed": 1,
        "in_flight": 3,
        "stale": 2,
        "balanced": False,
        "imbalance": 0,
        "orphans": 0,
        "skipped_by_reason": {"masked": 1, "no_motion": 2},
        "dropped_by_reason": {"bus_full": 1, "shutdown": 1},
    }


def test_nothing_is_stale_before_the_timeout() -> None:
    result = account("porch", scenario(), T0 + timedelta(seconds=1), STALE_AFTER)
    assert (result.in_flight, result.stale) == (3, 0)
    assert result.balanced


def test_stale_starts_strictly_after_the_timeout() -> None:
    [summary] = summarise(frame_events(1, CAPTURED))
    at_limit = account("porch", [summary], T0 + STALE_AFTER, STALE_AFTER)
    past_limit = account(
        "porch", [summary], T0 + STALE_AFTER + timedelta(microseconds=1), STALE_AFTER
    )
    assert (at_limit.stale, past_limit.stale) == (0, 1)
    assert past_limit.in_flight == 1
    assert at_limit.balanced
    assert not past_limit.balanced  # a stale frame means the camera is not accounted for


def test_terminal_frames_are_never_stale() -> None:
    frames = summarise(frame_events(1, CAPTURED, skipped("no_motion")))
    result = account("porch", frames, T0 + timedelta(days=1), STALE_AFTER)
    assert (result.in_flight, result.stale) == (0, 0)


def test_an_orphan_unbalances_the_camera_and_is_still_counted_in_its_outcome() -> None:
    frames = [*scenario(), *summarise(frame_events(12, QUEUED, dropped("bus_full")))]
    result = account("porch", frames, T0 + timedelta(seconds=1), STALE_AFTER)
    assert result.orphans == 1
    assert result.captured == 11
    assert result.dropped == {"bus_full": 2, "shutdown": 1}
    assert result.imbalance == -1
    assert not result.balanced
    assert result.to_dict()["balanced"] is False


def test_a_missing_reason_is_counted_as_unknown() -> None:
    frames = [
        FrameSummary(FrameState.SKIPPED, None, True, T0),
        FrameSummary(FrameState.DROPPED, None, True, T0),
        FrameSummary(FrameState.DROPPED, "stale", True, T0),
    ]
    result = account("porch", frames, T0, STALE_AFTER)
    assert result.skipped == {"unknown": 1}
    assert result.dropped == {"unknown": 1, "stale": 1}
    assert result.balanced


def test_every_in_flight_state_counts_as_in_flight() -> None:
    states = [FrameState.CAPTURED, FrameState.QUEUED, FrameState.PROCESSING]
    states += [FrameState.PROCESSED, FrameState.PUBLISHED]
    result = account("porch", [FrameSummary(s, None, True, T0) for s in states], T0, STALE_AFTER)
    assert (result.captured, result.in_flight, result.stale) == (5, 5, 0)


def test_an_empty_camera_balances() -> None:
    result = account("porch", [], T0, STALE_AFTER)
    assert (result.captured, result.accounted, result.balanced) == (0, 0, True)


def test_a_hand_built_imbalance() -> None:
    result = Accounting(camera="porch", captured=5, completed=3, skipped={"masked": 1})
    assert (result.imbalance, result.balanced) == (1, False)


def test_account_rejects_bad_arguments() -> None:
    with pytest.raises(ValidationError) as info:
        account("Porch", [], T0, STALE_AFTER)
    assert info.value.field == "camera"
    with pytest.raises(ValueError, match="timezone-aware"):
        account("porch", [], datetime(2025, 1, 1), STALE_AFTER)
    with pytest.raises(ValueError, match="must not be negative"):
        account("porch", [], datetime(2025, 1, 1, tzinfo=UTC), timedelta(seconds=-1))
