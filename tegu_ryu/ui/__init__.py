"""The web page at ``/ui/``: static files only; every datum it shows comes from ``/v1``."""
