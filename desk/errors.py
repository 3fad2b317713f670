"""Errors raised by the desk package.

Tree::

    DeskError
    ├── SettingsError          environment did not describe a valid configuration
    ├── NotFound               an id that does not exist (HTTP 404)
    ├── Forbidden              caller lacks the right (HTTP 403)
    ├── Conflict               duplicate name / state conflict (HTTP 409)
    ├── InvalidInput           malformed or oversize field (HTTP 422)
    ├── TooLarge               an upload past a size or count limit (HTTP 413)
    ├── UnsupportedType        a file whose content is not on the allow-list (HTTP 415)
    ├── Unavailable            a service it needs (Redis) is down for now (HTTP 503 + Retry-After)
    └── AuthError              bad credentials or session (HTTP 401)
        └── RateLimited        too many attempts (HTTP 429 + Retry-After)
"""

from __future__ import annotations


class DeskError(Exception):
    """Base of every desk error; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(DeskError):
    status = 500


class NotFound(DeskError):
    status = 404


class Forbidden(DeskError):
    status = 403


class Conflict(DeskError):
    status = 409


class InvalidInput(DeskError):
    """``field``: the input at fault (``email``, ``answers.order``), for a form to point at."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLarge(DeskError):
    status = 413


class UnsupportedType(DeskError):
    status = 415


class Unavailable(DeskError):
    status = 503
    retry_after_s = 2


class AuthError(DeskError):
    status = 401


class RateLimited(AuthError):
    """``retry_after_s``: when the budget has room again (the response's ``Retry-After``)."""

    status = 429

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)
