"""Thin shim so that tools which still call setup.py keep working; see pyproject.toml."""

from setuptools import setup

setup()
