"""Watching Kefu run: Prometheus metrics and structured, buyer-safe logs."""
