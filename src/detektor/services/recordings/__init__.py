"""Recordings: the settings of retention (per camera and global); the index and the pure
retention planning are `adapters` (RecordingIndex) and `domain.retention`."""
