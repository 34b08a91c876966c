"""Simulated datasets in the documented on-disk layouts (docs/simulator.md), and synthetic video files."""
