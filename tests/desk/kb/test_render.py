"""desk.kb.render: Markdown to safe HTML, plain text and a meta description."""

from __future__ import annotations

import re

import pytest

from desk.errors import InvalidInput
from desk.kb.render import check_body, describe, image_url_ok, render, sanitise, slugify
from desk.limits import ARTICLE_BODY_MAX, ARTICLE_DESCRIPTION_MAX

OWN = "https://desk.example"
KEY = "ab" * 20


def html(md: str) -> str:
    return render(md, OWN).html


def test_markdown_renders() -> None:
    out = html("# Title\n\nSome *em*, **strong**, `code`, ~~gone~~.\n\n- a\n- b\n\n1. one\n")
    assert "<h1>Title</h1>" in out
    assert "<em>em</em>" in out and "<strong>strong</strong>" in out
    assert "<code>code</code>" in out and "<s>gone</s>" in out
    assert "<ul>" in out and "<ol>" in out


def test_table_keeps_only_alignment_style() -> None:
    out = html("| a | b |\n|:-:|--:|\n| 1 | 2 |")
    assert '<th style="text-align:center">a</th>' in out
    assert sanitise('<td style="position:fixed">x</td>', OWN).count("style") == 0


@pytest.mark.parametrize("raw", [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "<style>body{display:none}</style>",
    "<iframe src='https://evil.test'></iframe>",
    "<object data=x></object><embed src=x>",
    "<form action=//evil.test><input name=p></form>",
    "<svg onload=alert(1)></svg>",
    "<details ontoggle=alert(1) open>x</details>",
    "<b onclick='alert(1)'>x</b>",
    "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<meta http-equiv=refresh content='0;url=//evil.test'>",
    "<base href=//evil.test/>",
    "<link rel=stylesheet href=//evil.test/x.css>",
    "x <!-- comment --> y",
])
def test_raw_html_is_stripped(raw: str) -> None:
    for md in (raw, f"text {raw} text", f"- item {raw}"):
        out = html(md).lower()
        for bad in ("<script", "<style", "<iframe", "<object", "<embed", "<form", "<input",
                    "<svg", "<details", "onerror", "onclick", "onload", "ontoggle",
                    "javascript:", "<meta", "<base", "<link", "evil.test", "<!--",
                    "alert(1)</"):
            assert bad not in out, (md, out)


def test_script_content_goes_with_the_tag() -> None:
    assert "alert" not in html("<script>alert(1)</script>\n\nafter")


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "java&#x09;script:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>x</script>",
    "jav\tascript:alert(1)",
])
def test_dangerous_links_never_become_hrefs(link: str) -> None:
    for md in (f"[x]({link})", f'<a href="{link}">x</a>', f"<{link}>"):
        out = html(md)
        # What a browser would run: a scheme after its URL parser drops tabs and newlines.
        hrefs = [h.replace("\t", "").replace("\n", "").strip().lower()
                 for h in re.findall(r'href="([^"]*)"', out)]
        assert not [h for h in hrefs if h.startswith(("javascript:", "vbscript:", "data:"))]


def test_safe_links_kept_with_rel() -> None:
    out = html("[a](https://example.org/x) [m](mailto:help@example.org) [r](/kb/site/a/1)")
    assert '<a href="https://example.org/x" rel="noopener noreferrer nofollow">a</a>' in out
    assert 'href="mailto:help@example.org"' in out and 'href="/kb/site/a/1"' in out


@pytest.mark.parametrize("src", [
    "https://evil.test/pixel.png", "http://desk.example.evil.test/kb/images/" + KEY,
    "//evil.test/kb/images/" + KEY, "/kb/images/" + KEY + "/../../secret",
    "/kb/images/../" + KEY, "/kb/images/" + "zz" * 20, "data:image/png;base64,AAAA",
    "https://desk.example/kb/images/" + KEY + "?x=1", "file:///etc/passwd",
])
def test_foreign_images_are_stripped(src: str) -> None:
    for md in (f"![alt text]({src})", f'<img src="{src}" alt="alt text">'):
        out = html(md)
        assert "<img" not in out, out
        assert "evil" not in out
    assert "alt text" in html(f"![alt text]({src})")


@pytest.mark.parametrize("src", ["/kb/images/" + KEY, "https://desk.example/kb/images/" + KEY])
def test_own_images_kept(src: str) -> None:
    assert f'<img src="{src}" alt="diagram">' in html(f"![diagram]({src})")
    assert f'src="{src}"' in html(f'<img src="{src}" onerror="x">')
    assert "onerror" not in html(f'<img src="{src}" onerror="x">')


def test_image_url_ok() -> None:
    assert image_url_ok("/kb/images/" + KEY, OWN)
    assert image_url_ok(OWN + "/kb/images/" + KEY, OWN + "/")
    assert not image_url_ok("https://other.example/kb/images/" + KEY, OWN)
    assert not image_url_ok("/kb/images/" + KEY[:-1], OWN)


def test_code_is_escaped_text() -> None:
    out = html("```\n<script>alert(1)</script>\n```")
    assert "&lt;script&gt;" in out and "<script" not in out


def test_plain_text_and_description() -> None:
    r = render("# Reset your password\n\nOpen **Settings** and `Reset`.\n\n"
               "<b>raw</b><script>x()</script>", OWN)
    assert r.text.splitlines()[0] == "Reset your password"
    assert "Open Settings and Reset." in r.text
    assert "raw" in r.text
    assert "x()" not in r.text
    assert r.description.startswith("Reset your password Open Settings")


def test_description_cut_at_a_word() -> None:
    text = "word " * 100
    d = describe(text)
    assert len(d) <= ARTICLE_DESCRIPTION_MAX and d.endswith("word…")
    assert describe("short  text\n") == "short text"
    assert len(describe("x" * 500)) == ARTICLE_DESCRIPTION_MAX


def test_body_limits() -> None:
    assert check_body("a\r\nb") == "a\nb"
    with pytest.raises(InvalidInput, match="at most"):
        check_body("x" * (ARTICLE_BODY_MAX + 1))
    with pytest.raises(InvalidInput, match="NUL"):
        check_body("a\x00b")
    with pytest.raises(InvalidInput):
        check_body(42)


def test_largest_body_renders() -> None:
    body = ("Paragraph with *emphasis* and a [link](https://example.org).\n\n" * 2000)
    body = body[:ARTICLE_BODY_MAX]
    assert render(check_body(body), OWN).html.count("<p>") >= 1000


@pytest.mark.parametrize(("title", "slug"), [
    ("Reset your password", "reset-your-password"),
    ("Passwort zurücksetzen", "passwort-zurucksetzen"),
    ("Größe ändern", "grosse-andern"), ("???", "article"), ("  A  --  B ", "a-b"),
])
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug
