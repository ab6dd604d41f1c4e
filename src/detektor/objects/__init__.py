"""Objects, not frames: detections of one camera turned into tracked objects with stable ids.

``model`` holds the plain types, ``scenes`` the scripted scenes with ground truth that tests
and benches share, and ``tracker`` the per-camera tracker that hides the tracking library.
"""
