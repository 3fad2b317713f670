"""What changed between two revisions of an article, line by line (pure).

The editor shows it before someone restores or publishes a revision: unchanged lines as
context, removed and added lines marked. Text only; the page puts it in as text.
"""

from __future__ import annotations

from difflib import SequenceMatcher

# One line of a diff: "=" kept, "-" only in the older text, "+" only in the newer one.
Line = tuple[str, str]
# Long unchanged runs are cut to this many lines either side of a change.
CONTEXT = 3


def lines(old: str, new: str, context: int = CONTEXT) -> list[Line]:
    """The changes from ``old`` to ``new``; a cut run of unchanged lines is one ``("…", n)``
    row, n the number of lines left out."""
    a, b = old.splitlines(), new.splitlines()
    out: list[Line] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(_context(a[i1:i2], context, first=i1 == 0, last=i2 == len(a)))
            continue
        out.extend(("-", line) for line in a[i1:i2])
        out.extend(("+", line) for line in b[j1:j2])
    return out


def _context(same: list[str], context: int, *, first: bool, last: bool) -> list[Line]:
    head = 0 if first else context
    tail = 0 if last else context
    if len(same) <= head + tail:
        return [("=", line) for line in same]
    cut = len(same) - head - tail
    return ([("=", line) for line in same[:head]] + [("…", str(cut))]
            + [("=", line) for line in same[len(same) - tail:]])
