"""No visitor-facing words are written into the widget's scripts: everything a visitor reads
goes through ``t()`` and the message catalogue (desk/locale/*.po).

A simple scan, not a parser: comments and the stylesheet are dropped, then every string
literal that reads like words ("two words", or any letters given as visible text: ``text:``,
``placeholder:``, ``title:``, ``alt:``, ``aria-label``, ``textContent =``) is reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "widget" / "static"
SCRIPTS = ["widget.js", "widget-kb.js", "js/case.js"]

_BLOCK = re.compile(r"/\*.*?\*/", re.S)
_LINE = re.compile(r"(^|\s)//.*$", re.M)
_CSS = re.compile(r"function CSS\(\) \{.*?\n  \}\n", re.S)
_STYLE = re.compile(r"const CSS = .*?;\n", re.S)
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`((?:[^`\\]|\\.)*)`')
_WORDS = re.compile(r"[A-Za-z]{2,}[,.!?:]?\s+[A-Za-z]{2,}")
_VISIBLE = re.compile(
    r"""(?:\btext|placeholder|\btitle|\balt|"aria-label"|textContent\s*)\s*[:=]\s*"""
    r"""["'`]([^"'`]*[A-Za-z][^"'`]*)["'`]""")
_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")
# Not words a visitor reads: class lists and the strict-mode directive.
_NOT_TEXT = re.compile(r"(?:\bclass:\s*|className\s*=\s*)$")


def code(name: str) -> str:
    source = (STATIC / name).read_text("utf-8")
    for pattern in (_BLOCK, _CSS, _STYLE):
        source = pattern.sub("", source)
    return _LINE.sub(r"\1", source)


def findings(source: str) -> list[str]:
    found = [m[1] for m in _VISIBLE.finditer(source)
             if re.search("[A-Za-z]", _ESCAPE.sub("", re.sub(r"\$\{[^}]*\}?", "", m[1])))]
    for m in _LITERAL.finditer(source):
        literal = next(g for g in m.groups() if g is not None)
        if literal == "use strict" or _NOT_TEXT.search(source[max(0, m.start() - 16):m.start()]):
            continue
        # Template literals: only their text parts, not what they interpolate.
        text = re.sub(r"\$\{[^}]*\}", " ", literal)
        if _WORDS.search(text):
            found.append(literal)
    return found


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_hard_coded_visitor_text(name: str) -> None:
    assert findings(code(name)) == []


def test_the_scan_catches_words() -> None:
    sample = 'h("p", { text: "Loading" }); x = "Start a new chat"; el.textContent = `Hi`;'
    assert findings(sample) == ["Loading", "Hi", "Start a new chat"]
    assert findings('h("p", { text: t("widget.loading") }); fetch("api/x");') == []
