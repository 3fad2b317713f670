"""Errors raised by the ingest package.

Tree::

    IngestError
    ├── PoisonMail            mail that cannot be parsed safely (depth, part count, recursion);
    │   │                     the caller quarantines it with the raw bytes kept
    │   └── OversizeMail      mail larger than the configured limit (known from RFC822.SIZE)
    ├── UnsafeAddress         an address that is ambiguous or malformed (CVE-2023-27043 forms)
    ├── HeaderInjection       an outgoing header would carry more than its own value (CVE-2024-6923)
    ├── ImapFailure           the IMAP server failed, timed out or dropped the connection
    ├── LeaseLost             this poller no longer holds the mailbox lease; stop touching it
    └── SendFailure           SMTP delivery failed (temporary unless ``permanent``)
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest error."""


class PoisonMail(IngestError):
    """The mail must be quarantined; ``reason`` says why in words an admin understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OversizeMail(PoisonMail):
    pass


class UnsafeAddress(IngestError):
    pass


class HeaderInjection(IngestError):
    pass


class ImapFailure(IngestError):
    pass


class LeaseLost(IngestError):
    pass


class SendFailure(IngestError):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
