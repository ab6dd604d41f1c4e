"""The notifier: detections to Home Assistant over MQTT (discovery, state, events)."""
