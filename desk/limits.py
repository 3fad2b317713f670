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
EXTERNAL_ID_MAX = 128  # a host site's own user id (desk.identity)
IDENTITY_SECRET_MAX = 128

# Ids and seqs: every id column is INTEGER (PostgreSQL int4; ``messages.id`` and the key
# referring to it are BIGINT, and no client names a message by id), and so are ``seq`` and
# ``last_seq`` (tests/desk/test_ids.py holds the columns to it). An id beyond the range cannot
# exist, and handed to the database driver it is not a miss but an OverflowError, so every
# path, query, body and frame field is checked against it before it reaches a query.
ID_MIN = 1
INT_MAX = 2**31 - 1  # an INTEGER column's largest value
ID_MAX = INT_MAX
SEQ_MAX = INT_MAX  # ``seq`` and ``last_seq`` are INTEGER too


SITE_KEY_MAX = 64  # Site.key


def is_site_key(key: str) -> bool:
    """A key a site could have: what a stranger names a site by is looked up only then (a NUL
    is an error, not a miss, on PostgreSQL; a longer key cannot exist)."""
    return 0 < len(key) <= SITE_KEY_MAX and "\x00" not in key


def is_id(value: object) -> bool:
    """An integer (not a bool) that an id column can hold."""
    return type(value) is int and ID_MIN <= value <= ID_MAX


PRIORITY_MAX = 9  # a conversation's priority: 0..9

SKILL_LEVEL_MIN, SKILL_LEVEL_MAX = 1, 10


def is_skill_level(value: object) -> bool:
    """A skill level (an agent's, or what a topic requires): an integer, not a bool, 1 to 10."""
    return type(value) is int and SKILL_LEVEL_MIN <= value <= SKILL_LEVEL_MAX

# Knowledge base articles (desk.kb): a body is Markdown of at most this many characters, which
# also fits within the JSON API's request limit (desk.http.MAX_BODY) once encoded.
ARTICLE_TITLE_MAX = 200
ARTICLE_BODY_MAX = 100_000
ARTICLE_DESCRIPTION_MAX = 160  # the meta description, cut from the text at a word
ARTICLE_TAGS_MAX, TAG_MAX = 20, 64
ARTICLE_RELATED_MAX = 20
SLUG_MAX = 80
LANGUAGE_MAX = 8  # a language tag: en, de, pt-br
KB_IMAGE_MAX = 2 * 1024 * 1024  # bytes of one uploaded article image
