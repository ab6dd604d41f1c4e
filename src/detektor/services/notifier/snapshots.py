"""What the notifier needs from the snapshot store, and from the link signer.

The objects stage keeps the pictures (each object's best sighting, each camera's latest
frame); the notifier only reads them to put them on MQTT for Home Assistant's ``image``
entities. ``SnapshotSource`` is that port: the store implements it, tests use an in-memory
twin. ``Link`` turns an API path into an absolute URL that Home Assistant (and a phone
outside the house) can open without the API token: a signed link, or None when none can be
made (no public base URL), and then the message carries no URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Link = Callable[[str], str | None]


class SnapshotSource(Protocol):
    def read_best(self, object_id: str, *, crop: bool = False, box: bool = True) -> bytes | None:
        """The JPEG of the object's best sighting (cut to the object with ``crop``, its box
        drawn with ``box``), or None when there is none (yet, or any more)."""
        ...

    def read_latest(self, camera: str, *, boxes: bool = True) -> bytes | None:
        """The JPEG of the camera's latest processed frame, with its objects' boxes drawn
        when ``boxes``, or None when there is none."""
        ...


def snapshot_path(object_id: str) -> str:
    """The API path of an object's best snapshot, which ``Link`` signs."""
    return f"/v1/objects/{object_id}/snapshot.jpg"


def clip_path(object_id: str) -> str:
    """The API path of an object's clip (a camera with ``record`` set), which ``Link`` signs."""
    return f"/v1/objects/{object_id}/clip.mp4"
