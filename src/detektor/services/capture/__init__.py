"""The capture service: cameras in, sampled and motion-gated frames onto the frame bus."""
