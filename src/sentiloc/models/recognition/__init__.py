"""Recognition models: clip labels from per-segment features, with the segments that carry them."""
