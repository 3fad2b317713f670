"""Reading the shipped message catalogues (``desk/locale/<lang>.po``, see ``desk.i18n``).

The PO files are the only copy: there is no compile step (no .mo), the server parses them at
start-up, and the browser gets the same messages as JSON (``/api/public/i18n``). They are
package data, the same for every process and never changed while it runs, so one parse per
process is kept (``shipped``), like a template.
"""

from __future__ import annotations

import functools
from pathlib import Path

from desk.i18n import LANGUAGES, Catalogues, parse_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def load(directory: Path = LOCALE_DIR) -> Catalogues:
    return Catalogues({lang: parse_po((directory / f"{lang}.po").read_text("utf-8"), lang)
                       for lang in LANGUAGES})


@functools.cache
def shipped() -> Catalogues:
    return load()
