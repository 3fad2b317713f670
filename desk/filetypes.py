"""What a file is, decided by its bytes, and the names it is shown and served under. Pure.

The sender's filename and declared Content-Type say nothing we trust: ``sniff`` reads the first
bytes (magic numbers), a text file must be UTF-8 throughout (``TextCheck``, fed while the upload
streams) and must not look like markup, and a ZIP container is judged by its directory
(``zip_refusal``: entry count, declared total size, compression ratio, overlapping entries, an
archive inside, paths leaving the folder) before it is accepted. Anything else (an ``.exe``
named ``.png``, SVG, HTML) is not on the allow-list. Only PNG, JPEG, GIF and WebP content may
be previewed inline; everything is otherwise served as a download.
"""

from __future__ import annotations

import codecs
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from desk.limits import FILENAME_MAX


@dataclass(frozen=True, slots=True)
class Kind:
    mime: str
    label: str
    extensions: tuple[str, ...]  # the first is added to a name whose extension disagrees
    preview: bool = False  # the content really is a raster image browsers decode safely
    archive: bool = False  # a ZIP container: its directory must pass ``zip_refusal``


PNG = Kind("image/png", "PNG", ("png",), preview=True)
JPEG = Kind("image/jpeg", "JPEG", ("jpg", "jpeg"), preview=True)
GIF = Kind("image/gif", "GIF", ("gif",), preview=True)
WEBP = Kind("image/webp", "WebP", ("webp",), preview=True)
PDF = Kind("application/pdf", "PDF", ("pdf",))
ZIP = Kind("application/zip", "ZIP", ("zip",), archive=True)
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word (.docx)", ("docx",), archive=True)
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel (.xlsx)", ("xlsx",), archive=True)
PPTX = Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "PowerPoint (.pptx)", ("pptx",), archive=True)
ODF = Kind("application/vnd.oasis.opendocument", "OpenDocument", ("odt", "ods", "odp"),
           archive=True)
TEXT = Kind("text/plain", "plain text", ("txt", "csv", "log", "md", "json"))
ALLOWED = (PNG, JPEG, GIF, WEBP, PDF, ZIP, DOCX, XLSX, PPTX, ODF, TEXT)
BY_MIME = {k.mime: k for k in ALLOWED}
OCTET = "application/octet-stream"

HEAD_BYTES = 4096  # what ``sniff`` needs of the start of a file
_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<script", b"<?xml", b"<body", b"<head",
           b"<iframe", b"<object", b"<embed")
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")


def sniff(head: bytes) -> Kind | None:
    """The allowed kind the content is, from its first bytes; None: not allowed (a text file
    is only a candidate until ``TextCheck`` has seen all of it)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    return TEXT if _plain_text(head) else None


def _plain_text(head: bytes) -> bool:
    if not head:
        return False
    body = head.removeprefix(codecs.BOM_UTF8)
    if any(b < 0x20 and b not in _TEXT_CONTROLS for b in body) or b"\x7f" in body:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    lowered = body.lower()
    # Markup (HTML, SVG, XML) is refused even though a download would not render it: a
    # browser or mail client elsewhere might.
    return not lowered.lstrip().startswith(b"<") and not any(m in lowered for m in _MARKUP)


class TextCheck:
    """Fed every chunk of an upload: still valid UTF-8 without control bytes?"""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.ok = True

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if not self.ok:
            return
        if any(b < 0x20 and b not in _TEXT_CONTROLS for b in chunk):
            self.ok = False
            return
        try:
            self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            self.ok = False


@dataclass(frozen=True, slots=True)
class ZipEntry:
    name: str
    compressed: int
    size: int  # as the directory declares it
    offset: int  # of the entry's local header


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_entries: int = 1000
    max_total: int = 256 * 1024 * 1024
    max_ratio: int = 100  # for entries over ``ratio_floor`` bytes
    ratio_floor: int = 1024 * 1024


_NESTED = (".zip", ".jar", ".rar", ".7z", ".gz", ".tgz", ".bz2", ".xz", ".tar", ".cab", ".iso")


def zip_refusal(entries: Sequence[ZipEntry], limits: ZipLimits = ZipLimits()) -> str | None:
    """Why a ZIP's directory is refused (a bomb or a trap for whoever unpacks it), or None."""
    if not entries:
        return "the archive is empty"
    if len(entries) > limits.max_entries:
        return f"the archive holds more than {limits.max_entries} entries"
    if sum(e.size for e in entries) > limits.max_total:
        return f"the archive unpacks to more than {limits.max_total // 2**20} MiB"
    for e in entries:
        if e.size > limits.ratio_floor and e.size > limits.max_ratio * max(e.compressed, 1):
            return "the archive is compressed beyond any real file (a zip bomb)"
        parts = e.name.replace("\\", "/").split("/")
        if e.name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            return "an archive entry's path leaves its folder"
        if e.name.lower().endswith(_NESTED):
            return "archives inside an archive are not accepted"
    ordered = sorted(entries, key=lambda e: e.offset)
    for a, b in itertools.pairwise(ordered):
        if a.offset + a.compressed > b.offset:
            return "the archive's entries overlap (a zip bomb)"
    return None


def zip_kind(entries: Sequence[ZipEntry]) -> Kind:
    """An accepted ZIP as the document format it holds, by its directory."""
    names = {e.name for e in entries}
    if "[Content_Types].xml" in names:
        for prefix, kind in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
            if any(n.startswith(prefix) for n in names):
                return kind
    if "mimetype" in names and "META-INF/manifest.xml" in names:
        return ODF
    return ZIP


def allowed_labels() -> str:
    return ", ".join(k.label for k in ALLOWED)


def display_name(raw: str | None) -> str:
    """A safe display name: no path parts, no control or format characters (NUL, CR/LF, the
    bidi overrides that make ``exe.png`` of ``png.exe``), bounded length, never empty."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if ":" in name:
        name = name.rsplit(":", 1)[-1].strip()
    if not name:
        return "attachment"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 \
            else name[:FILENAME_MAX]
    return name


def named_for(raw: str | None, kind: Kind | None) -> str:
    """The display name, with the content's own extension added when the given one disagrees
    (a PNG sent as ``x.exe`` is ``x.exe.png``)."""
    name = display_name(raw)
    if kind is None:
        return name
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext in kind.extensions:
        return name
    suffix = "." + kind.extensions[0]
    return name[: FILENAME_MAX - len(suffix)] + suffix


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII ``filename`` fallback and the exact name as ``filename*``."""
    clean = display_name(name)
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode()
    ascii_name = "".join(c if c.isalnum() or c in " .-_()[]+,=@" else "_" for c in ascii_name)
    ascii_name = ascii_name.strip(" _")
    if not ascii_name or ascii_name.startswith("."):
        ascii_name = "attachment" + ascii_name
    return (f'{disposition}; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(clean, safe='')}")
