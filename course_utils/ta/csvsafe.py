"""Every CSV ``course`` writes goes through here, so no cell becomes a spreadsheet formula.

OWASP's rule against CSV injection (https://owasp.org/www-community/attacks/CSV_Injection):
a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading single quote, which spreadsheets show as text and do not evaluate. A text cell that
already starts with a quote gets one more, so ``unescape`` gives back exactly what was written.
Numbers (``int``, ``float``, negative ones too) are not text and stay numbers. Quoting of commas,
quotes and newlines is the ``csv`` module's (Excel dialect).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["escape", "unescape", "to_text", "write"]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def escape(value: Any) -> Any:
    """``value`` as a cell: numbers and empty cells as they are, text made formula-free."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return _QUOTE + text if text.startswith((*_FORMULA, _QUOTE)) else text


def unescape(cell: str) -> str:
    """The text that ``escape`` turned into ``cell`` (for reading a CSV we wrote)."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


def to_text(rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text of ``rows`` (the header is just the first row), every cell escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([escape(cell) for cell in row])
    return buffer.getvalue()


def write(target: Path | None, rows: Iterable[Sequence[Any]]) -> str:
    """Write ``rows`` as CSV to ``target`` (UTF-8) unless it is None; returns the text."""
    text = to_text(rows)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return text
