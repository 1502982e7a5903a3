"""Tegu's ``rjprt`` output: a JSON reply printed as ``key = value`` lines, for old scripts.

``tegu_req`` printed Tegu's replies through ``rjprt``, and scripts read them
with ``awk '$1 == "id"'`` or ``grep "comment = ..."``. This reproduces its
two forms: the default hierarchy (four spaces per level, arrays as
``name[i]``, every number with two decimals as Go printed its float64s,
``null/undefined`` for null) and, with ``-d``, dotted names
(``root.reqstate[0].status = OK``, with a ``name[len]`` entry per array).
"""

from __future__ import annotations

from typing import Any


def hierarchy(value: Any, root: str) -> str:
    """``value`` as rjprt printed it by default, under the name ``root``."""
    printer = _Hierarchy()
    printer.print(value, 0, root)
    return "".join(printer.out)


def dotted(value: Any, root: str) -> str:
    """``value`` as ``rjprt -d`` printed it: one ``dotted.name = value`` line per leaf."""
    lines: list[str] = []
    _flatten(value, root, lines)
    return "".join(f"{line}\n" for line in lines)


def scalar(value: Any) -> str:
    if value is None:
        return "null/undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{float(value):.2f}"
    return str(value)


class _Hierarchy:
    """A port of gopkgs' jsontools prettyprint, blank lines included."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.need_blank = False

    def print(self, value: Any, depth: int, tag: str) -> None:
        indent = " " * (depth * 4)
        if isinstance(value, dict):
            self.need_blank = False
            if tag:
                self.out.append(f"{indent}{tag}:\n")
            for key, item in value.items():
                self.print(item, depth + 1, key)
        elif isinstance(value, list):
            self.need_blank = True
            self.out.append("\n")
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    self.out.append(f"{indent}{tag}[{index}]:\n")
                    self.print(item, depth, "")
                else:
                    self.print(item, depth, f"{tag}[{index}]")
        else:
            self.out.append(f"{indent}{tag} = {scalar(value)}\n")
        if self.need_blank:
            self.out.append("\n")
        self.need_blank = False


def _flatten(value: Any, name: str, lines: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{name}.{key}", lines)
    elif isinstance(value, list):
        lines.append(f"{name}[len] = {len(value)}")
        for index, item in enumerate(value):
            _flatten(item, f"{name}[{index}]", lines)
    else:
        lines.append(f"{name} = {scalar(value)}")
