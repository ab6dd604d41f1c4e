"""Where a service's snapshot files are, and the worker that keeps them within retention.

One place says where the snapshots live (``<data_dir>/snapshots``) for every process that
touches them: ``detektor run`` and ``serve objects`` write them, the tracking service serves
them, the notifier puts them on MQTT. In compose all of them mount the same data volume.
"""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread

from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.kit.workers import pause
from detektor.objects.snapshots import SnapshotStore
from detektor.settings import Settings

log = logging.getLogger(__name__)
SWEEP = "snapshot-retention"  # the worker's name and heartbeat


def snapshot_store(settings: Settings, metrics: Metrics | None = None) -> SnapshotStore | None:
    """The snapshot files, or None when objects or their snapshots are off. Pass ``metrics``
    in the process that sweeps them (it reports the bytes kept)."""
    if not (settings.objects.enabled and settings.objects.snapshots.enabled):
        return None
    return SnapshotStore(settings.data_dir / "snapshots", settings.objects.snapshots, metrics)


async def sweep_snapshots(store: SnapshotStore, stop: asyncio.Event, liveness: Liveness) -> None:
    """Retention at start, then every ``sweep_interval_s``, until ``stop``. A sweep that
    fails (the volume went read-only) is logged and tried again at the next interval."""
    interval = store.settings.sweep_interval_s
    while not stop.is_set():
        liveness.beat(SWEEP, max_silence_s=interval + 300)
        try:
            await to_thread.run_sync(store.sweep)
        except OSError as exc:
            log.warning("snapshots: retention sweep of %s failed: %s", store.root, exc)
        await pause(stop, interval)
