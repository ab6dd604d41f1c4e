"""Snapshot files: each object's best picture and each camera's latest frame, and their
retention.

Under ``root``::

    objects/<camera>.<first ms>.<track>.jpg        the best sighting's full frame
    objects/<camera>.<first ms>.<track>.box.jpg    the same with its box and "label score"
    objects/<camera>.<first ms>.<track>.crop.jpg   the box with a margin
    latest/<camera>.jpg, latest/<camera>.boxes.jpg the camera's latest frame, clean and boxed

An object id's colons become dots; a valid id holds no dot, so the mapping reverses, and
only valid object ids and camera names ever become file names, so none leaves ``root``.
Files are replaced atomically (a temporary file, then ``os.replace``), so a reader gets the
old picture or the new one, never half of one. The store ignores ``settings.enabled``: a
caller with snapshots off builds none. Call ``sweep`` at start (it also sets the gauge) and
every ``sweep_interval_s``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from detektor.domain.errors import ValidationError
from detektor.domain.frames import validate_camera
from detektor.domain.object_events import validate_object_id
from detektor.kit.metrics import Metrics
from detektor.objects.drawing import Labelled, check_box, check_image, crop_around, draw_boxes
from detektor.objects.model import Box
from detektor.pipeline.decoding import Image
from detektor.services.objects.settings import SnapshotSettings

log = logging.getLogger(__name__)

OBJECTS_DIR, LATEST_DIR = "objects", "latest"
_BEST_KINDS = ("", ".box", ".crop")  # full frame, boxed, crop
_LATEST_KINDS = ("", ".boxes")
_STALE_TMP_S = 3600.0  # a temporary file this old was left by a crash, not a write going on


class SnapshotMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.bytes = metrics.gauge(
            "detektor_snapshot_bytes", "Bytes of snapshot files kept (as of the last sweep)"
        )
        self.deleted = metrics.counter(
            "detektor_snapshot_files_deleted_total",
            "Snapshot files deleted by retention, by reason (age, size)",
            ["reason"],
        )


@dataclass
class _Set:
    """The files of one object, or of one camera's latest frame: kept or deleted together."""

    files: list[Path] = field(default_factory=list)
    size: int = 0
    newest: float = 0.0


class SnapshotStore:
    """Snapshot files under ``root``; thread-safe (JPEG encoding runs outside the lock)."""

    def __init__(
        self,
        root: Path,
        settings: SnapshotSettings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.settings = settings
        self._metrics = SnapshotMetrics(metrics) if metrics is not None else None
        self._clock = clock
        self._lock = threading.Lock()
        self._latest_at: dict[str, float] = {}
        self._bytes = 0

    def keep_best(
        self, object_id: str, camera: str, image: Image, box: Box, label: str, score: float
    ) -> None:
        """Keep this sighting as the object's pictures, replacing its previous best."""
        validate_object_id(object_id)
        validate_camera(camera)
        if not object_id.startswith(f"{camera}:"):
            raise ValidationError("object_id", f"{object_id!r} is not an object of {camera!r}")
        check_image(image)
        box = check_box(box)
        blobs = [
            self._encode(image),
            self._encode(draw_boxes(image, [(label, score, box)])),
            self._encode(crop_around(image, box)),
        ]
        stem = object_id.replace(":", ".")
        with self._lock:
            for kind, blob in zip(_BEST_KINDS, blobs, strict=True):
                self._write(self.root / OBJECTS_DIR / f"{stem}{kind}.jpg", blob)

    def keep_latest(self, camera: str, image: Image, detections: Sequence[Labelled]) -> bool:
        """Keep the camera's latest frame, unless the last one is under
        ``latest_interval_s`` old; True when written."""
        validate_camera(camera)
        check_image(image)
        with self._lock:
            now = self._clock()
            last = self._latest_at.get(camera)
            if last is not None and now - last < self.settings.latest_interval_s:
                return False
            # Claimed before encoding, so a concurrent caller skips; a failed write is
            # retried after the interval like any other.
            self._latest_at[camera] = now
        blobs = [self._encode(image), self._encode(draw_boxes(image, detections))]
        with self._lock:
            for kind, blob in zip(_LATEST_KINDS, blobs, strict=True):
                self._write(self.root / LATEST_DIR / f"{camera}{kind}.jpg", blob)
        return True

    def object_snapshot(
        self, object_id: str, *, crop: bool = False, box: bool = True
    ) -> Path | None:
        """The file of the object's picture (the crop has no box drawn), or None."""
        try:
            validate_object_id(object_id)
        except ValidationError:
            return None
        kind = ".crop" if crop else ".box" if box else ""
        return _existing(self.root / OBJECTS_DIR / f"{object_id.replace(':', '.')}{kind}.jpg")

    def latest(self, camera: str, *, boxes: bool = False) -> Path | None:
        """The file of the camera's latest frame, or None."""
        try:
            validate_camera(camera)
        except ValidationError:
            return None
        return _existing(self.root / LATEST_DIR / f"{camera}{'.boxes' if boxes else ''}.jpg")

    def read_best(self, object_id: str, *, crop: bool = False, box: bool = True) -> bytes | None:
        return _read(self.object_snapshot(object_id, crop=crop, box=box))

    def read_latest(self, camera: str, *, boxes: bool = True) -> bytes | None:
        return _read(self.latest(camera, boxes=boxes))

    def sweep(self) -> int:
        """Delete the sets older than ``max_age_s``, then the oldest until the rest fit in
        ``max_bytes``; the number of files deleted."""
        with self._lock:
            now = self._clock()
            deleted = 0
            kept: list[_Set] = []
            for kind, found in self._scan(now):
                if kind == "tmp" or now - found.newest > self.settings.max_age_s:
                    deleted += self._delete(found, "age")
                else:
                    kept.append(found)
            kept.sort(key=lambda s: s.newest)
            total = sum(s.size for s in kept)
            for oldest in kept:
                if total <= self.settings.max_bytes:
                    break
                deleted += self._delete(oldest, "size")
                total -= oldest.size
            self._bytes = total
            if self._metrics is not None:
                self._metrics.bytes.set(total)
            return deleted

    def _encode(self, image: Image) -> bytes:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.quality])
        if not ok:
            raise ValueError(f"OpenCV could not encode a {image.shape} image as JPEG")
        return data.tobytes()

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            old = path.stat().st_size
        except OSError:
            old = 0
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._bytes += len(data) - old
        if self._metrics is not None:
            self._metrics.bytes.set(self._bytes)

    def _scan(self, now: float) -> Iterator[tuple[str, _Set]]:
        """Each set of files (``"set"``), and each temporary file a crash left (``"tmp"``);
        anything else in the folders is not ours and is left alone."""
        for folder, kinds, valid in (
            (OBJECTS_DIR, _BEST_KINDS, _is_object_stem),
            (LATEST_DIR, _LATEST_KINDS, _is_camera),
        ):
            sets: dict[str, _Set] = {}
            for path, size, mtime in _files(self.root / folder):
                name = path.name
                if name.startswith(".") and name.endswith(".tmp"):
                    if now - mtime > _STALE_TMP_S:
                        yield "tmp", _Set([path], size, mtime)
                    continue
                stem = _stem(name, kinds)
                if stem is None or not valid(stem):
                    continue
                found = sets.setdefault(stem, _Set())
                found.files.append(path)
                found.size += size
                found.newest = max(found.newest, mtime)
            for found in sets.values():
                yield "set", found

    def _delete(self, found: _Set, reason: str) -> int:
        deleted = 0
        for path in found.files:
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # another process (or a person) was first
            except OSError as exc:
                log.warning("cannot delete snapshot %s: %s", path, exc.strerror)
                continue
            deleted += 1
            if self._metrics is not None:
                self._metrics.deleted.labels(reason).inc()
        return deleted


def _files(folder: Path) -> Iterator[tuple[Path, int, float]]:
    """``(path, size, mtime)`` of each regular file in ``folder``; what vanishes or cannot
    be read while listing is skipped."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        yield Path(entry.path), st.st_size, st.st_mtime


def _stem(name: str, kinds: tuple[str, ...]) -> str | None:
    if not name.endswith(".jpg"):
        return None
    base = name[: -len(".jpg")]
    for kind in sorted(kinds, key=len, reverse=True):
        if kind and base.endswith(kind):
            return base[: -len(kind)]
    return base


def _is_object_stem(stem: str) -> bool:
    if ":" in stem:
        return False  # "a:1:2.jpg" is no name of ours
    try:
        validate_object_id(stem.replace(".", ":"))
    except ValidationError:
        return False
    return True


def _is_camera(stem: str) -> bool:
    try:
        validate_camera(stem)
    except ValidationError:
        return False
    return True


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None  # deleted by retention between the look-up and the read
