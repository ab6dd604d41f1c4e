"""Suite-wide test settings: Hypothesis keeps its files out of the repository."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis caches what it learns from source files under ./.hypothesis; keep that in the
# temporary directory, and keep no example database at all (tests set database=None too).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "detektor-hypothesis")
settings.register_profile("detektor", database=None, deadline=None)
settings.load_profile("detektor")
