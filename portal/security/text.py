"""Single-line text that is safe in an email subject, a header, a filename or a CSV cell."""

import re
import unicodedata

# Unicode categories that are never part of a name: controls (CR, LF, NUL, ...), format
# characters (bidi overrides, zero-width joiners used to disguise text) and the line and
# paragraph separators that some mail clients and spreadsheets treat as line breaks.
UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def single_line(value: str) -> str:
    """The value with control and format characters turned into spaces, runs of space folded."""
    cleaned = "".join(
        " " if unicodedata.category(char) in UNSAFE_CATEGORIES else char for char in value or ""
    )
    return re.sub(r"\s+", " ", cleaned).strip()


def has_unsafe_characters(value: str) -> bool:
    return any(unicodedata.category(char) in UNSAFE_CATEGORIES for char in value or "")
