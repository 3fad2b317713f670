"""Column limits: the one definition that the records' columns (desk.models), the API
validators and the mail parser (ingest.mime, ingest.addresses, ingest.headers) all use, so
nothing the API or the parser accepts can fail an INSERT on PostgreSQL (which, unlike SQLite,
enforces VARCHAR lengths). Pure: no SQLAlchemy here, so the pure modules may import it."""

from __future__ import annotations

NAME_MAX = 120
EMAIL_MAX = 254  # RFC 5321: a path is at most 256 octets, angle brackets included
BODY_MAX = 100_000
SUBJECT_MAX = 255
MESSAGE_ID_MAX = 255  # with its angle brackets
FILENAME_MAX = 255
CONTENT_TYPE_MAX = 127
MAILBOX_TEXT_MAX = 255  # host, username, password, folder of a mailbox
