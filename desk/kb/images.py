"""Article images: uploaded by staff, stored under a random key, served at /kb/images/<key>.

Only PNG, JPEG, GIF and WebP are taken, and the bytes must start like one (an SVG or HTML file
named image/png is refused), so a served image can never run script. The rendered articles
accept no other image source (desk.kb.render.image_url_ok).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from desk import filetypes
from desk.errors import InvalidInput, NotFound
from desk.http import read_bounded
from desk.kb.render import IMAGE_KEY, IMAGE_PATH
from desk.limits import KB_IMAGE_MAX
from desk.models import KbImage

# The raster images browsers decode safely: what desk.filetypes lets be previewed.
IMAGE_TYPES = frozenset(k.mime for k in filetypes.ALLOWED if k.preview)


def url(key: str) -> str:
    return IMAGE_PATH + key


def path_for(data_dir: Path, key: str) -> Path:
    if re.fullmatch(IMAGE_KEY, key) is None:
        raise NotFound("no such image")
    return data_dir / "kb-images" / key[:2] / key


def image_type(content_type: str, data: bytes) -> str:
    """The image's type, when the declared one is an image type the bytes agree with (the
    bytes are read by ``desk.filetypes.sniff``, the one content rule)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in IMAGE_TYPES:
        raise InvalidInput("an article image is PNG, JPEG, GIF or WebP (Content-Type image/...)")
    kind = filetypes.sniff(data[: filetypes.HEAD_BYTES])
    if kind is None or kind.mime != ctype:
        raise InvalidInput(f"the file is not a {ctype} image")
    return ctype


async def read_body(request: Request) -> bytes:
    body = await read_bounded(request, KB_IMAGE_MAX)
    if body is None:
        raise InvalidInput(f"an image is at most {KB_IMAGE_MAX} bytes")
    return body


async def store(s: AsyncSession, data_dir: Path, site_id: int, data: bytes, content_type: str,
                agent_id: int, key: str) -> KbImage:
    ctype = image_type(content_type, data)
    path = path_for(data_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = KbImage(site_id=site_id, storage_key=key, content_type=ctype, size=len(data),
                  uploaded_by=agent_id)
    s.add(row)
    await s.flush()
    return row
