"""End-user workflows built from the library: predicting a split, localizing one video, the demo."""
