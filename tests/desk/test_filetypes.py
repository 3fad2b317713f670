"""Pure: what a file is by its bytes, ZIP directories judged, and the names files are shown and
served under."""

from __future__ import annotations

import io
import zipfile

import pytest

from desk import filetypes as ft
from desk.filetypes import ZipEntry

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20


@pytest.mark.parametrize(("head", "kind"), [
    (PNG, ft.PNG),
    (b"\xff\xd8\xff\xe0\0\x10JFIF", ft.JPEG),
    (b"GIF89a\x01\0", ft.GIF),
    (b"GIF87a\x01\0", ft.GIF),
    (b"RIFF\x10\0\0\0WEBPVP8 ", ft.WEBP),
    (b"%PDF-1.7\n", ft.PDF),
    (b"PK\x03\x04\x14\0", ft.ZIP),
    (b"Order 1234, delivered late.\r\nThanks\n", ft.TEXT),
    ("Grüße, 注文".encode(), ft.TEXT),
    (b"\xef\xbb\xbfname,qty\n", ft.TEXT),
    # Disguised and dangerous content: refused whatever it is called.
    (b"MZ\x90\0\x03\0\0\0", None),  # a Windows .exe (named .png or anything)
    (b"\x7fELF\x02\x01", None),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", None),
    (b"  <?xml version='1.0'?><svg/>", None),
    (b"<!DOCTYPE html><html>", None),
    (b"hello <script>alert(1)</script>", None),
    (b"text with a NUL \0 byte", None),
    (b"\xff\xfe\x00\x00", None),  # not UTF-8
    (b"RIFF\x10\0\0\0WAVEfmt ", None),
    (b"", None),
])
def test_sniff_by_content(head: bytes, kind: ft.Kind | None) -> None:
    assert ft.sniff(head) is kind


def test_only_raster_images_preview() -> None:
    assert {k.mime for k in ft.ALLOWED if k.preview} == {
        "image/png", "image/jpeg", "image/gif", "image/webp"}


def test_text_check_sees_the_whole_file() -> None:
    good = ft.TextCheck()
    data = "é".encode()
    good.feed(data[:1])  # a character split across chunks is fine
    good.feed(data[1:] + b"\n", final=True)
    assert good.ok
    bad = ft.TextCheck()
    bad.feed(b"plain start\n")
    bad.feed(b"then MZ\x00\x01 binary")
    assert not bad.ok
    cut = ft.TextCheck()
    cut.feed(data[:1], final=True)
    assert not cut.ok


def entries(data: bytes) -> list[ZipEntry]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [ZipEntry(i.filename, i.compress_size, i.file_size, i.header_offset)
                for i in zf.infolist()]


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_and_traps_refused() -> None:
    bomb = make_zip({"zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert "zip bomb" in (ft.zip_refusal(entries(bomb)) or "")
    assert ft.zip_refusal(entries(make_zip({"logs/a.txt": b"x" * 1000}))) is None
    # Many tiny highly compressible files are fine one by one but not past the total.
    assert "unpacks to more than" in (ft.zip_refusal(
        [ZipEntry(f"f{i}", 1000, 2**20, i * 1000) for i in range(300)]) or "")
    assert "more than 1000 entries" in (ft.zip_refusal(
        [ZipEntry(f"f{i}", 10, 10, i * 100) for i in range(1001)]) or "")
    # Overlapping entries: the non-recursive bomb (every entry reuses one compressed stream).
    assert "overlap" in (ft.zip_refusal(
        [ZipEntry("a", 5000, 500_000, 0), ZipEntry("b", 5000, 500_000, 30)]) or "")
    assert "inside an archive" in (ft.zip_refusal(entries(make_zip({"42.zip": b"PK"}))) or "")
    for evil in ("../../etc/cron.d/x", "/etc/passwd", "C:/boot.ini", "a/../../b"):
        assert "leaves its folder" in (ft.zip_refusal([ZipEntry(evil, 1, 1, 0)]) or "")
    assert ft.zip_refusal([]) == "the archive is empty"


def test_zip_kinds_by_directory() -> None:
    docx = make_zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"})
    xlsx = make_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"})
    odt = make_zip({"mimetype": b"application/vnd.oasis.opendocument.text",
                    "META-INF/manifest.xml": b"<x/>"})
    assert ft.zip_kind(entries(docx)) is ft.DOCX
    assert ft.zip_kind(entries(xlsx)) is ft.XLSX
    assert ft.zip_kind(entries(odt)) is ft.ODF
    assert ft.zip_kind(entries(make_zip({"a.txt": b"x"}))) is ft.ZIP


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\x.dll", "x.dll"),
    ("C:\\Windows\\boot.ini", "boot.ini"),
    ("C:boot.ini", "boot.ini"),
    ("evil\x00.txt", "evil.txt"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),  # RTL override: shown as "invoiceexe.png"
    ("a\u200bb\u2066c.pdf", "abc.pdf"),
    ("", "attachment"),
    (None, "attachment"),
    ("...", "attachment"),
    (".bashrc", "bashrc"),
    ("<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"),
    ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ("line\nbreak.txt", "linebreak.txt"),
])
def test_display_names_are_safe(raw: str | None, expected: str) -> None:
    assert ft.display_name(raw) == expected


def test_named_for_the_content() -> None:
    assert ft.named_for("photo.PNG", ft.PNG) == "photo.PNG"
    assert ft.named_for("x.exe", ft.PNG) == "x.exe.png"
    assert ft.named_for("report", ft.PDF) == "report.pdf"
    assert ft.named_for("a.jpeg", ft.JPEG) == "a.jpeg"
    assert len(ft.named_for("a" * 400, ft.PDF)) == 255


def test_content_disposition_rfc6266() -> None:
    assert ft.content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    value = ft.content_disposition('Grüße "x";\r\nSet-Cookie a=b.txt')
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="Grue _x__Set-Cookie a=b.txt"')
    assert value.endswith("filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22x%22%3BSet-Cookie%20a%3Db.txt")
    assert ft.content_disposition("日本.png", "inline").startswith(
        'inline; filename="attachment.png"')
