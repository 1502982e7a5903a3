"""Errors that stop the controller from starting, each with a message for the operator."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """Configuration or an input file is wrong; the message says which and where."""
