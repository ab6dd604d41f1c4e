"""AgeBudget: which frames are shed as stale, and how big a batch may be under the limit."""

from __future__ import annotations

from detektor.adapters.memory_bus import to_delivery
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.pipeline.shedding import AgeBudget, stale_events
from detektor.ports import Delivery

NOW_MS = 1_764_230_400_000


def delivery(age_ms: int, seq: int = 1) -> Delivery:
    ms = NOW_MS - age_ms
    msg = FrameMessage(FrameId.make("cam", ms, seq), ms, seq, 4, 4, b"\xff\xd8jpeg")
    return to_delivery(f"{ms}-{seq}", msg.to_fields(), 1)


def ages(found: list[Delivery]) -> list[int]:
    return [NOW_MS - d.message.captured_ms for d in found if d.message]


def test_before_any_batch_only_frames_older_than_the_limit_are_stale() -> None:
    budget = AgeBudget(1000)
    shed = budget.split([delivery(999), delivery(1000), delivery(1001), delivery(-5000)], NOW_MS)
    assert ages([d for d, _ in shed.stale]) == [1001]
    assert ages(shed.fresh) == [999, 1000, -5000]  # from the future: fresh, never stale


def test_the_expected_processing_time_counts_but_for_at_most_half_the_limit() -> None:
    budget = AgeBudget(1000)
    budget.observe(0.4, 4)  # 100 ms a frame
    batch = [delivery(650, 1), delivery(750, 2), delivery(100, 3)]  # 300 ms ahead
    assert ages([d for d, _ in budget.split(batch, NOW_MS).stale]) == [750]
    budget.observe(10.0, 1)  # a very slow batch: the average jumps, the cap holds
    assert budget.frame_ms > 500
    shed = budget.split([delivery(499), delivery(501)], NOW_MS)
    assert ages(shed.fresh) == [499]  # a young frame is always processed: no starvation


def test_batches_shrink_to_half_the_limits_worth_of_processing() -> None:
    budget = AgeBudget(1000)
    assert budget.batch_size(8) == 8  # nothing measured yet
    budget.observe(0.05, 1)
    assert budget.batch_size(8) == 8  # 50 ms a frame: 10 fit in 500 ms
    budget.observe(1.5, 1)  # average 50 + 0.2 * (1500 - 50) = 340 ms
    assert budget.batch_size(8) == 1
    budget.observe(0.0, 0)  # an empty batch says nothing
    assert budget.batch_size(8) == 1


def test_a_limit_of_zero_sheds_nothing_and_keeps_the_batch_size() -> None:
    budget = AgeBudget(0)
    budget.observe(5.0, 1)
    assert budget.batch_size(8) == 8
    shed = budget.split([delivery(3_600_000)], NOW_MS)
    assert shed.stale == []
    assert len(shed.fresh) == 1


def test_an_unparsable_entry_is_never_stale() -> None:
    bad = to_delivery("1-0", {b"frame_id": b"cam:1:000001"}, 1)
    shed = AgeBudget(1).split([bad], NOW_MS)
    assert shed.fresh == [bad]


def test_the_drop_event_carries_reason_age_and_stage() -> None:
    shed = AgeBudget(1000).split([delivery(2500)], NOW_MS)
    (event,) = stale_events(shed, "detector", NOW_MS)
    assert event.data == {"reason": "stale", "age_ms": 2500, "stage": "detector"}
    assert event.frame_id == shed.stale[0][1].frame_id
