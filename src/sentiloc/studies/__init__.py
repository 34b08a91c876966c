"""Research studies on top of the toolkit: the accuracy matrix, sensitivity and robustness grids,
the attention probe, and speed/memory benchmarks. Nothing in the library imports them."""
