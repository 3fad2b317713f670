"""Article Markdown to safe HTML, plain text and a meta description (pure).

markdown-it (CommonMark, tables, strikethrough) renders; nh3 then keeps only the tags and
attributes below, so whatever the Markdown holds, the HTML stored and served is safe:

- raw HTML in the Markdown is parsed and cleaned: ``<script>``/``<style>`` go with their
  content, every other unknown tag leaves only its text, event handlers and ``style`` go;
- links keep only ``http``, ``https``, ``mailto`` or relative targets (``javascript:``,
  ``data:``, ``vbscript:`` are dropped) and carry ``rel="noopener noreferrer nofollow"``;
- images keep their source only when it is one of our own KB image URLs (``/kb/images/<key>``,
  relative or on ``own_origin``): the server never fetches an image, and a visitor's browser is
  never sent to another host by an article. A foreign image becomes its alt text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from desk.errors import InvalidInput
from desk.limits import ARTICLE_BODY_MAX, ARTICLE_DESCRIPTION_MAX

TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote",
    "pre", "code", "em", "strong", "del", "s", "a", "img", "table", "thead", "tbody", "tr",
    "th", "td",
})
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
              "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_KEY = r"[0-9a-f]{40}"
IMAGE_PATH = "/kb/images/"
# An image whose source was refused (a raw <img> in the Markdown): nothing left to show.
_SOURCELESS = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_ALIGN = re.compile(r"^text-align:(left|right|center)$")


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    text: str  # the words a reader sees, for search and the description
    description: str  # at most ARTICLE_DESCRIPTION_MAX characters, cut at a word


def image_url_ok(url: str, own_origin: str) -> bool:
    """One of our own KB image URLs: ``/kb/images/<key>`` relative or on our origin."""
    origin = re.escape(own_origin.rstrip("/"))
    return re.fullmatch(f"(?:{origin})?{re.escape(IMAGE_PATH)}{IMAGE_KEY}", url) is not None


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.add_render_rule("image", _image)
    return md


def _image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    if not image_url_ok(src, env["own_origin"]):
        return _escape(alt)
    title = token.attrGet("title")
    extra = f' title="{_escape(str(title))}"' if title else ""
    return f'<img src="{_escape(src)}" alt="{_escape(alt)}"{extra}>'


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def sanitise(html: str, own_origin: str) -> str:
    """HTML reduced to TAGS/ATTRIBUTES, safe links, our own images only."""

    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            return value if image_url_ok(value, own_origin) else None
        if attr == "style":  # only the table alignment markdown-it writes
            return value if _ALIGN.match(value.replace(" ", "")) else None
        return value

    clean = nh3.clean(html, tags=set(TAGS), attributes={k: set(v) for k, v in ATTRIBUTES.items()},
                     url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer nofollow",
                     clean_content_tags={"script", "style"}, strip_comments=True,
                     attribute_filter=keep)
    return _SOURCELESS.sub("", clean)


_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|pre|blockquote|tr|th|td)>|<br>|<hr>")


def plain_text(safe_html: str) -> str:
    """The text a reader sees in sanitised HTML, one line per block."""
    lines = nh3.clean(_BLOCK_END.sub("\n", safe_html), tags=set())
    return "\n".join(" ".join(line.split()) for line in html.unescape(lines).splitlines()
                     if line.strip())


def describe(text: str, limit: int = ARTICLE_DESCRIPTION_MAX) -> str:
    """The first ``limit`` characters of the text on one line, cut at a word, with an ellipsis
    when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,.;:") + "…"


def check_body(body: object) -> str:
    """The article's Markdown as saved, or InvalidInput (too long, NUL, not text)."""
    if not isinstance(body, str):
        raise InvalidInput("body must be a string", "body")
    if len(body) > ARTICLE_BODY_MAX:
        raise InvalidInput(f"body must be at most {ARTICLE_BODY_MAX} characters", "body")
    if "\x00" in body:
        raise InvalidInput("body must not contain NUL characters", "body")
    return body.replace("\r\n", "\n")


def render(body: str, own_origin: str) -> Rendered:
    """Render an article body (already through ``check_body``)."""
    md = _parser()
    safe = sanitise(md.render(body, {"own_origin": own_origin}), own_origin)
    text = plain_text(safe)
    return Rendered(html=safe, text=text, description=describe(text))


def slugify(title: str) -> str:
    """A URL slug of the title: ASCII letters and digits joined by ``-`` ("article" if none)."""
    ascii_title = (unicodedata.normalize("NFKD", title.replace("ß", "ss"))
                   .encode("ascii", "ignore").decode())
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].rstrip("-") or "article"
