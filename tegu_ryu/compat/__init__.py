"""Compatibility with the original Tegu: its /tegu/api text protocol and request syntax."""
