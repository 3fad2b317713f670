"""Static checks on the front-end files: the widget's size budget and no markup sinks."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "widget" / "static"
WIDGET_BUDGET = 25 * 1024
# Any of these with data would render markup; the UI sets textContent / Text nodes only.
SINKS = re.compile(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                   r"new Function\(")


def test_widget_js_and_css_fit_the_gzip_budget() -> None:
    files = [STATIC / "widget.js", *STATIC.glob("widget*.css")]
    total = sum(len(gzip.compress(f.read_bytes(), compresslevel=9)) for f in files)
    assert total <= WIDGET_BUDGET, f"widget is {total} bytes gzipped, budget {WIDGET_BUDGET}"


def test_no_markup_sinks_in_any_script() -> None:
    scripts = [*STATIC.glob("widget*.js"), *(STATIC / "js").glob("*.js")]
    assert len(scripts) > 3
    offenders = [f.name for f in scripts if SINKS.search(f.read_text())]
    assert offenders == []


def test_pages_load_only_local_scripts() -> None:
    for page in STATIC.glob("*.html"):
        for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page.read_text()):
            assert src.startswith("/static/"), (page.name, src)
