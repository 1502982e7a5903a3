"""Reservations: the time-and-graph admission engine, lifecycle, and persistence."""
