"""The objects stage: detections to tracked objects, their events, snapshots."""
