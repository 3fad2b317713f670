"""Content extraction: charsets, headers, bodies, attachments, limits, defects."""

from __future__ import annotations

import pytest

from ingest.errors import OversizeMail
from ingest.mime import Limits, html_to_text, parse, safe_filename
from tests.ingest import corpus

FILES = corpus.files()


def test_gb2312_subject_body_and_name() -> None:
    mail = parse(FILES["gb2312.eml"])
    assert mail.subject == "中文主题"
    assert mail.sender is not None and mail.sender.name == "中文"
    assert mail.text.startswith("中文")


def test_unknown_charset_falls_back_without_losing_text() -> None:
    mail = parse(FILES["unknown_charset.eml"])
    assert mail.subject == "Qaplaé"
    assert mail.text.startswith("Café and ")


def test_eight_bit_headers_mixed_utf8_and_latin1() -> None:
    mail = parse(FILES["eightbit_headers.eml"])
    assert mail.subject == "Grüße aus Köln"
    assert mail.sender is not None
    assert (mail.sender.email, mail.sender.name) == ("joerg@example.de", "Jörg Müller")


def test_rfc2231_and_encoded_word_filenames() -> None:
    names = [a.filename for a in parse(FILES["rfc2231_filename.eml"]).attachments]
    assert names == ["€ Rechnung für März.pdf", "élèment.txt"]


def test_winmail_dat_kept_as_attachment() -> None:
    (att,) = parse(FILES["winmail_dat.eml"]).attachments
    assert (att.filename, att.content_type) == ("winmail.dat", "application/ms-tnef")
    assert att.data.startswith(b"\x78\x9f\x3e\x22")


def test_missing_final_boundary_is_a_recorded_defect() -> None:
    mail = parse(FILES["missing_final_boundary.eml"])
    assert mail.text == "Plain part survives."
    assert "HTML part" in mail.html
    assert "CloseBoundaryNotFoundDefect" in mail.defects


def test_html_is_sanitised_and_text_fallback_built() -> None:
    mail = parse(FILES["xss_subject_and_names.eml"])
    low = mail.html.lower()
    for bad in ("<script", "onclick", "onerror", "javascript:", "onload", "<style"):
        assert bad not in low
    assert mail.text.startswith("Hello click")
    # Subject and names are stored as text; escaping is the renderer's job, never stripping.
    assert mail.subject.startswith("<script>")


def test_html_only_mail_gets_plain_text() -> None:
    mail = parse(FILES["bulk_newsletter.eml"])
    assert mail.text == "Deals\nSave 50%!"
    assert "color:red" not in mail.text


def test_html_to_text_drops_script_and_unescapes() -> None:
    assert html_to_text("<p>a &amp; b</p><script>x()</script><div>c</div>") == "a & b\nc"


def test_encoded_newline_subject_is_one_line() -> None:
    mail = parse(FILES["encoded_newline_subject.eml"])
    assert mail.subject == "Hello Bcc: victim@example.com body"


def test_broken_base64_decodes_what_it_can() -> None:
    assert parse(FILES["broken_base64.eml"]).text.startswith("Hello world")


def test_empty_and_headerless_mail() -> None:
    empty = parse(FILES["empty.eml"])
    assert (empty.sender, empty.message_id, empty.text) == (None, None, "")
    assert parse(FILES["no_headers_at_all.eml"]).text == "just a body with no headers"


def test_ambiguous_from_gives_no_sender() -> None:
    mail = parse(FILES["ambiguous_from.eml"])
    assert mail.sender is None
    assert "UnparseableFromAddress" in mail.defects


def test_forwarded_message_becomes_eml_attachment() -> None:
    mail = parse(FILES["forwarded_rfc822.eml"])
    assert mail.text == "See below."
    assert [a.filename for a in mail.attachments] == ["original.eml"]
    assert mail.embedded_message_ids == ("<inner@example.net>",)


def test_threading_headers_and_dedup_key() -> None:
    raw = corpus.simple(extra="In-Reply-To: <a@x>\nReferences: <r1@x> <a@x>\n  <r2@x> junk")
    mail = parse(raw)
    assert mail.in_reply_to == ("<a@x>",)
    assert mail.references == ("<r1@x>", "<a@x>", "<r2@x>")
    assert mail.dedup_key == "<m1@example.org>"
    anon = parse(corpus.simple(message_id=None))
    assert anon.dedup_key.startswith("sha256:")
    assert anon.dedup_key == parse(corpus.simple(message_id=None)).dedup_key


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(OversizeMail):
        parse(corpus.simple(body="x" * 2000), Limits(max_bytes=1000))


def test_attachment_limits_recorded_as_defects() -> None:
    raw = FILES["rfc2231_filename.eml"]
    mail = parse(raw, Limits(max_attachment_bytes=6))
    assert [a.filename for a in mail.attachments] == ["élèment.txt"]
    assert "AttachmentTooLarge" in mail.defects
    assert len(parse(raw, Limits(max_attachments=1)).attachments) == 1


def test_text_truncated_at_limit() -> None:
    mail = parse(corpus.simple(body="y" * 500), Limits(max_text_chars=100))
    assert len(mail.text) == 100 and "TextTruncated" in mail.defects


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\x.exe", "x.exe"),
        ("a\x00b.txt", "a_b.txt"),
        ("..", "attachment"),
        ("", "attachment"),
        ("evil\u202egnp.exe", "evil_gnp.exe"),
        ("x" * 300 + ".pdf", "x" * 245 + ".pdf"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_date_parsed_or_none() -> None:
    ok = parse(corpus.simple(extra="Date: Mon, 2 Nov 2026 10:00:00 +0100"))
    assert ok.date is not None and ok.date.year == 2026
    assert parse(corpus.simple(extra="Date: yesterday-ish")).date is None
