"""Enforcement: what the switches must hold so that admitted reservations are kept."""
