"""The object book: which message each object event becomes (new/update/end, before), the
rules (labels, top score, required zones), backlogs, repeats, and what counts."""

from __future__ import annotations

import uuid

from detektor.services.notifier.objects import (
    AFTER_END,
    DUPLICATE,
    NEVER_ANNOUNCED,
    ObjectBook,
    Verdict,
)
from detektor.services.notifier.rules import (
    BELOW_MIN_SCORE,
    LABEL_NOT_CONFIGURED,
    OUTSIDE_REQUIRED_ZONES,
    STALE,
    CameraRules,
)
from support.object_events import ObjectScript

RULES = CameraRules(("person", "car"))


def send(book: ObjectBook, event: object, fresh: bool = True) -> Verdict:
    verdict = book.apply(uuid.uuid4(), event, fresh=fresh)  # type: ignore[arg-type]
    if verdict.kind is not None and verdict.tracked is not None:
        verdict.tracked.sent = {"seen": verdict.kind}  # what the publisher records
    return verdict


def test_new_update_end_with_before() -> None:
    book = ObjectBook(RULES)
    person = ObjectScript()
    first = send(book, person.started())
    assert (first.kind, first.before, first.first) == ("new", None, True)
    update = send(book, person.stationary(12))
    assert (update.kind, update.before) == ("update", {"seen": "new"})
    end = send(book, person.ended(20))
    assert (end.kind, end.before) == ("end", {"seen": "update"})
    assert book.live == {}
    assert book.newest == {"person": person.object_id}


def test_labels_and_min_score_filter_against_the_top_score() -> None:
    book = ObjectBook(CameraRules(("person",), min_score=0.8))
    dog = ObjectScript(label="dog", track_id=2)
    assert send(book, dog.started()).reason == LABEL_NOT_CONFIGURED
    weak = ObjectScript(score=0.7, track_id=3)
    assert send(book, weak.started()).reason == BELOW_MIN_SCORE
    # Its top score rises: announced now, and it is news (its start was seen live).
    verdict = send(book, weak.better_snapshot(3, score=0.85))
    assert (verdict.kind, verdict.before) == ("new", None)
    counts = book.counts(["person"], [])
    assert counts.by_label["person"].active == 1
    assert "dog" not in counts.by_label  # not a label of the camera: not counted


def test_required_zones_announce_once_entered_but_count_from_the_start() -> None:
    book = ObjectBook(CameraRules(("person",), required_zones=("porch",)))
    person = ObjectScript()
    assert send(book, person.started()).reason == OUTSIDE_REQUIRED_ZONES
    assert book.counts(["person"], []).by_label["person"].total == 1
    assert send(book, person.entered("path", 2)).reason == OUTSIDE_REQUIRED_ZONES
    verdict = send(book, person.entered("porch", 4))
    assert verdict.kind == "new"
    assert verdict.tracked is not None
    assert verdict.tracked.entered == ("path", "porch")
    # Leaving the required zone does not take it back: it has entered it.
    assert send(book, person.left("porch", 6)).kind == "update"
    # An object that ends without ever entering a required zone says nothing.
    walker = ObjectScript(track_id=9)
    send(book, walker.started())
    assert send(book, walker.ended(3)).reason == OUTSIDE_REQUIRED_ZONES


def test_a_backlog_is_never_replayed_as_new_arrivals() -> None:
    book = ObjectBook(RULES)
    person = ObjectScript()
    assert send(book, person.started(), fresh=False).reason == STALE
    assert book.counts(["person"], []).by_label["person"].active == 1  # the state follows
    # The broker is back and the person is still there: an update, with no before.
    later = send(book, person.stationary(70))
    assert (later.kind, later.before) == ("update", None)
    # One that started and ended inside the backlog says nothing at all.
    ghost = ObjectScript(track_id=5)
    assert send(book, ghost.started(), fresh=False).reason == STALE
    assert send(book, ghost.ended(3), fresh=False).reason == STALE
    assert ghost.object_id not in book.live
    # A fresh end of an object never announced (its start was stale) is not news either.
    quiet = ObjectScript(track_id=6)
    send(book, quiet.started(), fresh=False)
    assert send(book, quiet.ended(3)).reason == NEVER_ANNOUNCED


def test_an_object_first_seen_mid_life_is_an_update() -> None:
    """The notifier restarted: it never saw the object start."""
    book = ObjectBook(RULES)
    car = ObjectScript(label="car")
    car.started()
    verdict = send(book, car.stationary(15))
    assert (verdict.kind, verdict.before) == ("update", None)
    assert book.counts(["car"], []).by_label["car"].stationary == 1


def test_repeats_and_events_after_the_end_are_ignored() -> None:
    book = ObjectBook(RULES)
    person = ObjectScript()
    started = person.started()
    event_id = uuid.uuid4()
    assert book.apply(event_id, started, fresh=True).kind == "new"
    assert book.apply(event_id, started, fresh=True).reason == DUPLICATE
    send(book, person.ended(3))
    assert send(book, person.stationary(4)).reason == AFTER_END
    assert book.live == {}


def test_counts_by_zone_and_state() -> None:
    book = ObjectBook(RULES)
    car = ObjectScript(label="car", track_id=1)
    send(book, car.started())
    send(book, car.entered("drive", 1))
    send(book, car.stationary(12))
    person = ObjectScript(track_id=2)
    send(book, person.started())
    send(book, person.entered("drive", 1))
    counts = book.counts(["person", "car"], ["porch"])
    assert counts.by_label["car"].stationary == 1
    assert counts.by_label["person"].active == 1
    assert counts.by_zone["drive"]["car"].stationary == 1
    assert counts.by_zone["drive"]["person"].active == 1
    assert counts.by_zone["porch"]["person"].total == 0  # known zones are listed at zero
