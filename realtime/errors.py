"""Errors raised by the realtime package, and the wire codes they map to.

Tree::

    RealtimeError
    ├── ProtocolError          a client frame that cannot be accepted (error frame or close)
    │   ├── FrameTooLarge      past Settings.ws_max_size (close 1009)
    │   ├── BadEncoding        invalid UTF-8 (close 1007)
    │   └── UnsupportedData    binary frame (close 1003)
    └── CommandError           a command that failed with a given wire code (error frame)

``code`` is the machine-readable string sent in ``error`` frames; ``close_code`` is set when the
error ends the connection instead of producing an error frame.
"""

from __future__ import annotations

# WebSocket close codes used by the endpoints (RFC 6455 and the 4000-4999 private range).
CLOSE_UNSUPPORTED = 1003
CLOSE_BAD_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESTART = 1012
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_FLOOD = 4429


class RealtimeError(Exception):
    code = "internal"
    close_code: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProtocolError(RealtimeError):
    """``code`` is one of not_json, not_object, unknown_type, missing_field, bad_field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class FrameTooLarge(ProtocolError):
    close_code = CLOSE_TOO_BIG

    def __init__(self, message: str) -> None:
        super().__init__("too_large", message)


class BadEncoding(ProtocolError):
    close_code = CLOSE_BAD_DATA

    def __init__(self, message: str) -> None:
        super().__init__("bad_utf8", message)


class UnsupportedData(ProtocolError):
    close_code = CLOSE_UNSUPPORTED

    def __init__(self, message: str) -> None:
        super().__init__("binary_unsupported", message)


class CommandError(RealtimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
