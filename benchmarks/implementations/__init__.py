"""Benchmarked implementations, one module per library; each registers its own entries."""
