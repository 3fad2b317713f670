"""The public knowledge base's HTML (pure): every value escaped, article bodies as stored
(already sanitised by desk.kb.render), one small inline stylesheet, no script.

URLs: ``/kb/<site key>/<lang>`` (topics), ``.../t/<topic slug>``, ``.../search?q=``,
``/kb/<site key>/<article lang>/a/<id>/<slug>`` (the canonical article URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from desk.i18n import Translator

# The pages hold no script and load nothing from elsewhere: a stray tag could do nothing.
CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
_STYLE = """body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#24324a;color:#fff;padding:1rem 1.5rem}header a{color:#fff;text-decoration:none}
main{max-width:46rem;margin:0 auto;padding:1.5rem}form{display:flex;gap:.5rem;margin:1rem 0}
input[type=search]{flex:1;padding:.5rem;font:inherit}button{padding:.5rem 1rem;font:inherit}
article,section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0}
li{margin:.3rem 0}.muted{color:#5b6474;font-size:.9rem}img{max-width:100%}
nav.lang a{color:#cfe0ff;margin-left:.6rem}pre{overflow:auto;background:#f0f2f5;padding:.6rem}"""


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str
    description: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class Frame:
    """What every page has: the site, the reader's language and the others offered, and the
    page's words in that language (``help.*`` of the message catalogue)."""

    site_name: str
    base: str  # /kb/<key>
    language: str
    languages: tuple[str, ...]
    public_url: str
    t: Translator
    query: str = ""


@dataclass(frozen=True, slots=True)
class ArticleView:
    title: str
    html: str
    description: str
    language: str
    canonical: str  # path
    translations: tuple[Link, ...] = ()
    related: tuple[Link, ...] = ()
    topic: Link | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def _links(items: Sequence[Link], frame: Frame) -> str:
    rows = []
    for item in items:
        other = (f' <span class="muted">({escape(item.language)})</span>'
                 if item.language and item.language != frame.language else "")
        desc = f'<div class="muted">{escape(item.description)}</div>' if item.description else ""
        rows.append(f'<li><a href="{escape(item.url)}">{escape(item.title)}</a>{other}{desc}</li>')
    return "<ul>" + "".join(rows) + "</ul>"


def _layout(frame: Frame, title: str, description: str, canonical: str, content: str,
            alternates: Sequence[tuple[str, str]] = ()) -> str:
    lang = escape(frame.language)
    home = f"{frame.base}/{quote(frame.language)}"
    alt = "".join(f'<link rel="alternate" hreflang="{escape(code)}" '
                  f'href="{escape(frame.public_url + path)}">' for code, path in alternates)
    switch = "".join(f'<a href="{escape(frame.base)}/{escape(code)}" hreflang="{escape(code)}">'
                     f"{escape(code.upper())}</a>" for code in frame.languages
                     if code != frame.language)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · {escape(frame.site_name)}</title>"
        f'<meta name="description" content="{escape(description)}">'
        f'<link rel="canonical" href="{escape(frame.public_url + canonical)}">{alt}'
        f"<style>{_STYLE}</style></head><body>"
        f'<header><a href="{escape(home)}"><strong>{escape(frame.site_name)}</strong> · '
        f'{escape(frame.t("help.home"))}</a><nav class="lang" style="float:right">'
        f"{switch}</nav></header><main>"
        f'<form role="search" action="{escape(home)}/search" method="get">'
        f'<input type="search" name="q" value="{escape(frame.query)}" maxlength="200" '
        f'aria-label="{escape(frame.t("help.search"))}">'
        f'<button>{escape(frame.t("help.search"))}</button></form>'
        f"{content}</main></body></html>"
    )


def index_page(frame: Frame, groups: Sequence[tuple[Link, Sequence[Link]]],
               loose: Sequence[Link]) -> str:
    """Topics with their articles, then the articles in no topic."""
    parts = [f'<section><h2><a href="{escape(t.url)}">{escape(t.title)}</a></h2>'
             f"{_links(items, frame)}</section>" for t, items in groups if items]
    if loose:
        parts.append(f"<section><h2>{escape(frame.t('help.other'))}</h2>"
                     f"{_links(loose, frame)}</section>")
    home = f"{frame.base}/{frame.language}"
    title = frame.t("help.home")
    return _layout(frame, title, f"{title} · {frame.site_name}", home, "".join(parts),
                   [(code, f"{frame.base}/{code}") for code in frame.languages])


def topic_page(frame: Frame, topic: Link, items: Sequence[Link]) -> str:
    return _layout(frame, topic.title, topic.title, topic.url,
                   f"<section><h1>{escape(topic.title)}</h1>{_links(items, frame)}</section>")


def search_page(frame: Frame, results: Sequence[Link]) -> str:
    head = f"<h1>{escape(frame.t('help.results', query=frame.query))}</h1>"
    body = (_links(results, frame) if results
            else f"<p>{escape(frame.t('help.none'))}</p>")
    return _layout(frame, frame.t("help.search"), frame.t("help.search"),
                   f"{frame.base}/{frame.language}/search", f"<section>{head}{body}</section>")


def article_page(frame: Frame, view: ArticleView) -> str:
    notes = ""
    if view.language != frame.language:
        notes = (f'<p class="muted">'
                 f'{escape(frame.t("help.fallback", language=view.language.upper()))}</p>')
    topic = (f'<p class="muted"><a href="{escape(view.topic.url)}">{escape(view.topic.title)}'
             f"</a></p>" if view.topic else "")
    also = ""
    if view.translations:
        also = (f'<p class="muted">{escape(frame.t("help.also"))}: ' + ", ".join(
            f'<a href="{escape(t.url)}" hreflang="{escape(t.language)}">{escape(t.title)}</a>'
            for t in view.translations) + "</p>")
    related = (f"<section><h2>{escape(frame.t('help.related'))}</h2>"
               f"{_links(view.related, frame)}</section>" if view.related else "")
    content = (f'<article lang="{escape(view.language)}">{topic}<h1>{escape(view.title)}</h1>'
               f"{notes}{view.html}{also}</article>{related}")
    alternates = [(view.language, view.canonical), *((t.language, t.url)
                                                      for t in view.translations)]
    return _layout(frame, view.title, view.description, view.canonical, content, alternates)
