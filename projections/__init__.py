"""Read models: the log replayed into point-in-time MRR, movements and metrics."""
