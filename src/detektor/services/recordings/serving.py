"""What serving recordings takes, built once per process: the recording index (in the event
store's database), the clip cache (``<data_dir>/clips``) and each camera's record settings.

``detektor run`` and the tracking service hand a ``Recordings`` to the recordings API
(``app.state.recordings``); its index is opened and migrated in their lifespan, and closed
with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from detektor.adapters.stores import open_recording_index
from detektor.ports import RecordingIndex
from detektor.services.recordings.clip_cache import ClipCache
from detektor.services.recordings.settings import RecordSettings
from detektor.settings import Settings


@dataclass
class Recordings:
    """What the recordings routes need."""

    index: RecordingIndex
    clips: ClipCache
    policy: Callable[[str], RecordSettings]
    max_export_s: float = 3600.0


def open_recordings(settings: Settings, database_url: str) -> Recordings:
    """The recordings of ``settings``, their index migrated; blocking (run it in a thread)."""
    cfg = settings.recordings
    index = open_recording_index(database_url)
    try:
        index.migrate()
    except BaseException:
        index.close()
        raise
    clips = ClipCache(cfg.root_in(settings.data_dir), settings.data_dir / "clips", cfg.clip_ttl_s)
    return Recordings(index, clips, record_policy(settings), cfg.max_export_s)


def record_policy(settings: Settings) -> Callable[[str], RecordSettings]:
    """A camera's record settings: its own ``record`` section, else ``recordings.default``
    (a camera this process does not configure, or one that is not recorded)."""
    default = settings.recordings.default
    known = {c.name: c.record for c in settings.cameras if c.record is not None}

    def of(camera: str) -> RecordSettings:
        return known.get(camera, default)

    return of
