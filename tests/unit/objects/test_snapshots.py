"""The snapshot store: the pictures it writes, safe names, the latest-frame throttle, and
retention by age and size over a folder that others touch too."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detektor.domain.errors import ValidationError
from detektor.kit.metrics import Metrics
from detektor.objects import snapshots
from detektor.objects.snapshots import LATEST_DIR, OBJECTS_DIR, SnapshotStore
from detektor.pipeline.decoding import Image
from detektor.services.objects.settings import SnapshotSettings

OID = "front-door:1764230400123:7"
T0 = 1_764_230_400.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def frame(width: int = 640, height: int = 480, seed: int = 0) -> Image:
    """A grey frame with a darker square in it: smooth, so JPEG keeps it small and exact-ish."""
    image = np.full((height, width, 3), 120 + seed, np.uint8)
    image[100:300, 200:400] = 60
    return image


def decode(data: bytes | None) -> Image:
    assert data is not None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics("objects", "test")


@pytest.fixture
def store(tmp_path: Path, clock: Clock, metrics: Metrics) -> SnapshotStore:
    return SnapshotStore(tmp_path / "snaps", SnapshotSettings(), metrics, clock=clock)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- the pictures --------------------------------------------------------------------------


def test_keep_best_writes_frame_boxed_frame_and_crop(store: SnapshotStore) -> None:
    store.keep_best(OID, "front-door", frame(), (200, 100, 400, 300), "person", 0.87)
    stem = "front-door.1764230400123.7"
    assert files(store.root) == [
        f"objects/{stem}.box.jpg",
        f"objects/{stem}.crop.jpg",
        f"objects/{stem}.jpg",
    ]
    clean = decode(store.read_best(OID, box=False))
    boxed = decode(store.read_best(OID))
    crop = decode(store.read_best(OID, crop=True))
    assert clean.shape == boxed.shape == (480, 640, 3)
    # 25% of the longer side (200) around the 200 x 200 box: 300 x 300.
    assert crop.shape == (300, 300, 3)
    # The box is drawn in a colour on the edge of the box; the clean frame stays grey there.
    edge = (slice(200, 210), slice(198, 202))
    assert np.abs(boxed[edge].astype(int) - clean[edge].astype(int)).max() > 60
    assert np.ptp(clean[edge].astype(int), axis=2).max() < 20  # no colour in the clean frame
    # Far from the box both are the same frame.
    far = (slice(400, 470), slice(500, 630))
    assert np.abs(boxed[far].astype(int) - clean[far].astype(int)).max() < 10


def test_label_is_drawn_above_the_box(store: SnapshotStore) -> None:
    store.keep_best(OID, "front-door", frame(), (200, 100, 400, 300), "person", 0.87)
    clean = decode(store.read_best(OID, box=False)).astype(int)
    boxed = decode(store.read_best(OID)).astype(int)
    above = (slice(60, 98), slice(205, 300))
    assert np.abs(boxed[above] - clean[above]).max() > 60


def test_keep_best_overwrites_the_previous_best(store: SnapshotStore) -> None:
    store.keep_best(OID, "front-door", frame(seed=0), (200, 100, 400, 300), "person", 0.5)
    first = store.read_best(OID, box=False)
    store.keep_best(OID, "front-door", frame(seed=80), (200, 100, 400, 300), "person", 0.9)
    second = store.read_best(OID, box=False)
    assert first != second
    assert abs(int(decode(second)[470, 630, 0]) - 200) <= 3
    assert len(files(store.root)) == 3


def test_lines_grow_with_the_frame(store: SnapshotStore) -> None:
    big = np.full((2160, 3840, 3), 120, np.uint8)
    store.keep_best(OID, "front-door", big, (1000, 500, 2000, 1500), "car", 0.7)
    boxed = decode(store.read_best(OID)).astype(int)
    # 2160 / 240 = 9 px: the line still differs from the grey 4 px inside the box edge.
    assert np.abs(boxed[1000, 1003] - 120).max() > 60


@pytest.mark.parametrize(
    ("box", "shape"),
    [
        ((-50, -50, 100, 100), (138, 138, 3)),  # clipped at the top-left corner
        ((600, 400, 700, 500), (105, 65, 3)),  # past the bottom-right edge
        ((1000, 1000, 1100, 1100), (480, 640, 3)),  # outside: the whole frame
        ((300, 200, 300, 200), (480, 640, 3)),  # a point: nothing to crop, the whole frame
    ],
)
def test_crop_is_clipped_to_the_frame(
    store: SnapshotStore, box: tuple[float, float, float, float], shape: tuple[int, ...]
) -> None:
    store.keep_best(OID, "front-door", frame(), box, "person", 0.5)
    assert decode(store.read_best(OID, crop=True)).shape == shape


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640), np.uint8),
        np.zeros((480, 640, 3), np.float32),
        np.zeros((480, 640, 4), np.uint8),
        np.zeros((0, 640, 3), np.uint8),
        "not an image",
    ],
)
def test_bad_images_are_refused(store: SnapshotStore, image: object) -> None:
    with pytest.raises(ValueError, match="image"):
        store.keep_best(OID, "front-door", image, (0, 0, 10, 10), "person", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image"):
        store.keep_latest("front-door", image, [])  # type: ignore[arg-type]
    assert files(store.root) == []


@pytest.mark.parametrize("box", [(float("nan"), 0, 10, 10), (0, 0, float("inf"), 10), (0, 0, 1)])
def test_bad_boxes_are_refused(store: SnapshotStore, box: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="box"):
        store.keep_best(OID, "front-door", frame(), box, "person", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="box"):
        store.keep_latest("front-door", frame(), [("person", 0.5, box)])  # type: ignore[list-item]


# --- names and paths -----------------------------------------------------------------------

EVIL_IDS = [
    "../../etc/passwd",
    "front-door:1:2/../../x",
    "..:1:2",
    "front-door:1:2\n",
    "front-door:1:2/",
    "/abs:1:2",
    "Front-Door:1:2",
    "front-door:01:2",
    "front-door:1:-2",
    "front-door:1",
    "front-door.1.2",
    "",
    "a" * 65 + ":1:2",
    "front-door:1:2\x00",
]


@pytest.mark.parametrize("object_id", EVIL_IDS)
def test_invalid_object_ids_never_become_paths(
    store: SnapshotStore, tmp_path: Path, object_id: str
) -> None:
    with pytest.raises(ValidationError):
        store.keep_best(object_id, "front-door", frame(), (0, 0, 10, 10), "person", 0.5)
    assert store.object_snapshot(object_id) is None
    assert store.object_snapshot(object_id, crop=True) is None
    assert store.read_best(object_id) is None
    assert files(tmp_path) == []


@pytest.mark.parametrize("camera", ["../x", "..", "a/b", "Front", "", "-a", "a" * 65, "a\n"])
def test_invalid_cameras_never_become_paths(
    store: SnapshotStore, tmp_path: Path, camera: str
) -> None:
    with pytest.raises(ValidationError):
        store.keep_latest(camera, frame(), [])
    assert store.latest(camera) is None
    assert store.read_latest(camera) is None
    assert files(tmp_path) == []


def test_object_must_belong_to_the_camera(store: SnapshotStore) -> None:
    with pytest.raises(ValidationError, match="not an object of"):
        store.keep_best(OID, "back-yard", frame(), (0, 0, 10, 10), "person", 0.5)
    with pytest.raises(ValidationError, match="not an object of"):
        store.keep_best("front-door-2:1:1", "front-door", frame(), (0, 0, 10, 10), "p", 0.5)


def test_paths_for_each_kind(store: SnapshotStore) -> None:
    assert store.object_snapshot(OID) is None
    store.keep_best(OID, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    folder = store.root / OBJECTS_DIR
    assert store.object_snapshot(OID) == folder / "front-door.1764230400123.7.box.jpg"
    assert store.object_snapshot(OID, box=False) == folder / "front-door.1764230400123.7.jpg"
    crop = folder / "front-door.1764230400123.7.crop.jpg"
    assert store.object_snapshot(OID, crop=True) == crop
    assert store.object_snapshot(OID, crop=True, box=False) == crop
    assert store.object_snapshot("front-door:1764230400123:8") is None


# --- the latest frame ----------------------------------------------------------------------


def test_keep_latest_is_throttled_per_camera(store: SnapshotStore, clock: Clock) -> None:
    dets = [("person", 0.9, (200.0, 100.0, 400.0, 300.0)), ("car", 0.6, (10.0, 10.0, 90.0, 90.0))]
    assert store.latest("front-door") is None
    assert store.keep_latest("front-door", frame(seed=0), dets)
    first = store.read_latest("front-door", boxes=False)
    clock.now += 0.5
    assert not store.keep_latest("front-door", frame(seed=50), dets)
    assert store.read_latest("front-door", boxes=False) == first
    assert store.keep_latest("back-yard", frame(), dets)  # its own interval
    clock.now += 0.5
    assert store.keep_latest("front-door", frame(seed=50), dets)
    assert store.read_latest("front-door", boxes=False) != first
    assert files(store.root) == [
        "latest/back-yard.boxes.jpg",
        "latest/back-yard.jpg",
        "latest/front-door.boxes.jpg",
        "latest/front-door.jpg",
    ]
    clean = decode(store.read_latest("front-door", boxes=False)).astype(int)
    boxed = decode(store.read_latest("front-door")).astype(int)  # boxes by default for MQTT
    assert np.abs(boxed[200:210, 198:202] - clean[200:210, 198:202]).max() > 60
    assert np.abs(boxed[40:60, 8:12] - clean[40:60, 8:12]).max() > 60
    assert store.latest("front-door", boxes=True) == store.root / LATEST_DIR / (
        "front-door.boxes.jpg"
    )


def test_no_interval_writes_every_frame(tmp_path: Path, clock: Clock) -> None:
    store = SnapshotStore(tmp_path, SnapshotSettings(latest_interval_s=0), clock=clock)
    assert store.keep_latest("cam", frame(), [])
    assert store.keep_latest("cam", frame(), [])


# --- retention -----------------------------------------------------------------------------


def age(path: Path, seconds_before: float) -> None:
    os.utime(path, (T0 - seconds_before, T0 - seconds_before))


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_sweep_deletes_whole_sets_older_than_max_age(
    store: SnapshotStore, metrics: Metrics
) -> None:
    old, new = "front-door:1:1", "front-door:2:2"
    store.keep_best(old, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    store.keep_best(new, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    store.keep_latest("front-door", frame(), [])
    week = SnapshotSettings().max_age_s
    for path in (store.root / OBJECTS_DIR).glob("front-door.1.1*"):
        age(path, week + 1)
    # One file of the new object is old: the set's newest file decides, so it stays whole.
    age(store.root / OBJECTS_DIR / "front-door.2.2.crop.jpg", week + 1)
    assert store.sweep() == 3
    assert store.object_snapshot(old) is None
    assert store.object_snapshot(new, crop=True) is not None
    assert store.latest("front-door") is not None
    assert sample(metrics, "detektor_snapshot_files_deleted_total", reason="age") == 3
    kept = sum(p.stat().st_size for p in store.root.rglob("*.jpg"))
    assert sample(metrics, "detektor_snapshot_bytes") == kept > 0
    assert store.sweep() == 0


def test_sweep_deletes_the_oldest_sets_until_they_fit(
    tmp_path: Path, clock: Clock, metrics: Metrics
) -> None:
    settings = SnapshotSettings().model_copy(update={"max_bytes": 1})  # under the 1 MiB floor
    store = SnapshotStore(tmp_path, settings, metrics, clock=clock)
    ids = [f"front-door:{n}:{n}" for n in range(1, 5)]
    for n, oid in enumerate(ids):
        store.keep_best(oid, "front-door", frame(seed=n), (10, 10, 50, 50), "person", 0.5)
        for path in (tmp_path / OBJECTS_DIR).glob(oid.replace(":", ".") + "*"):
            age(path, 100 - n)  # the first is the oldest
    sizes = {
        oid: sum(p.stat().st_size for p in store.root.rglob(oid.replace(":", ".") + "*"))
        for oid in ids
    }
    store.settings = settings.model_copy(update={"max_bytes": sizes[ids[2]] + sizes[ids[3]]})
    assert store.sweep() == 6
    assert [store.object_snapshot(oid) is not None for oid in ids] == [False, False, True, True]
    assert sample(metrics, "detektor_snapshot_files_deleted_total", reason="size") == 6
    assert sample(metrics, "detektor_snapshot_bytes") == sizes[ids[2]] + sizes[ids[3]]


def test_sweep_leaves_junk_alone_and_survives_it(store: SnapshotStore, tmp_path: Path) -> None:
    store.keep_best(OID, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    folder = store.root / OBJECTS_DIR
    junk = [
        folder / "notes.txt",
        folder / "x.jpg",
        folder / "front-door:1:2.jpg",
        folder / "front-door.1.2.thumb.jpg",
        folder / "Front.1.2.jpg",
        folder / ".hidden.jpg",
        folder / "front-door.1.2.jpg.bak",
    ]
    for path in junk:
        path.write_bytes(b"junk")
        age(path, 10 * 365 * 86_400)
    (folder / "front-door.3.3.jpg").mkdir()  # a folder named like ours
    (folder / "front-door.4.4.jpg").symlink_to(tmp_path / "nowhere")  # dangling link
    (folder / "front-door.5.5.jpg").symlink_to("/etc/hostname")
    (store.root / LATEST_DIR).mkdir()
    (store.root / LATEST_DIR / "bad\udcff.jpg").write_bytes(b"junk")  # not UTF-8
    for path in (folder / f"front-door.1764230400123.7{k}.jpg" for k in ("", ".box", ".crop")):
        age(path, 8 * 86_400)
    assert store.sweep() == 3
    assert all(p.exists() for p in junk)
    assert (folder / "front-door.3.3.jpg").is_dir()
    assert (folder / "front-door.4.4.jpg").is_symlink()
    assert Path("/etc/hostname").exists()


def test_stale_temporary_files_are_removed(store: SnapshotStore) -> None:
    store.keep_best(OID, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    folder = store.root / OBJECTS_DIR
    stale, fresh = folder / ".a.jpg.0001.tmp", folder / ".b.jpg.0002.tmp"
    stale.write_bytes(b"half a picture")
    fresh.write_bytes(b"being written")
    age(stale, 2 * 3600)
    age(fresh, 1)
    assert store.sweep() == 1
    assert not stale.exists()
    assert fresh.exists()


def test_sweep_survives_files_vanishing_underneath(
    store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.keep_best(OID, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    real = snapshots._files

    def listing_then_gone(folder: Path) -> Iterator[tuple[Path, int, float]]:
        for path, size, _ in list(real(folder)):
            if path.name.endswith(".crop.jpg"):
                path.unlink()  # another process deletes it between listing and sweeping
            yield path, size, T0 - 30 * 86_400

    monkeypatch.setattr(snapshots, "_files", listing_then_gone)
    assert store.sweep() == 2
    assert list((store.root / OBJECTS_DIR).iterdir()) == []
    monkeypatch.undo()
    assert store.sweep() == 0  # and a folder removed underneath is empty, not an error
    (store.root / OBJECTS_DIR).rmdir()
    assert store.sweep() == 0


def test_reads_after_a_file_vanished_answer_none(store: SnapshotStore) -> None:
    store.keep_best(OID, "front-door", frame(), (10, 10, 50, 50), "person", 0.5)
    path = store.object_snapshot(OID)
    assert path is not None
    path.unlink()
    assert store.read_best(OID) is None
    assert store.read_best(OID, box=False) is not None


# --- threads -------------------------------------------------------------------------------


def test_concurrent_writers_leave_whole_pictures(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, SnapshotSettings(latest_interval_s=0))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                image = frame(seed=n * 10 + i)
                store.keep_best(OID, "front-door", image, (10, 10, 50, 50), "person", 0.5)
                store.keep_latest("front-door", image, [("person", 0.5, (10, 10, 50, 50))])
                if i % 3 == 0:
                    store.sweep()
                decode(store.read_best(OID, crop=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(files(tmp_path)) == 5  # 3 of the object, 2 latest; no temporary left
    for path in tmp_path.rglob("*.jpg"):
        decode(path.read_bytes())
