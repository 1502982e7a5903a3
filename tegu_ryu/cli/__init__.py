"""The ``tegu`` command line: the v1 API for people, and ``tegu req`` for tegu_req scripts."""
