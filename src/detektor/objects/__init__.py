"""Objects, not frames: detections of one camera turned into tracked objects with stable ids.

``model`` holds the plain types, ``scenes`` the scripted scenes with ground truth that tests
and benches share, ``tracker`` the per-camera tracker that hides the tracking library,
``drawing`` the boxes and crops of pictures, and ``snapshots`` the picture files on disk.
"""
