"""Characters in untrusted text: which ones a request may not carry, which ones show, and how to echo it safely.

A value from a CRM ends up in a CloudEvent `subject`, an extension attribute, log lines, a terminal and Partner
Center. Control characters there forge lines and headers (CR LF) or drive a terminal (ESC); a lone surrogate (a
JavaScript producer cutting a string inside an emoji) cannot even be encoded as UTF-8.
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\ufffd"

# Characters that change how the text around them is read rather than adding to it: C0/C1 controls (category
# Cc), line and paragraph separators (a line break to JavaScript and most log viewers), and the bidirectional
# embeddings, overrides and isolates that make the shown order differ from the stored one ("Trojan Source").
# Marks like ZWJ/ZWNJ and LRM/RLM stay allowed: scripts such as Persian and Hebrew need them.
_LINE_BREAKS = frozenset("\u2028\u2029")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that render as nothing: fillers and blanks that are letters or symbols to Unicode.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})


def is_surrogate(char: str) -> bool:
    """A UTF-16 surrogate on its own: not a character, and not encodable as UTF-8."""
    return "\ud800" <= char <= "\udfff"


def is_control(char: str) -> bool:
    """A control character a request field may not carry (see above)."""
    return unicodedata.category(char) == "Cc" or char in _LINE_BREAKS or char in _BIDI_CONTROLS


def first_unsafe(value: str) -> tuple[int, str] | None:
    """The position and character of the first control character or lone surrogate, or None."""
    if value.isprintable():  # the common case, in C: no Cc, Cf, Cs, Zl, Zp (nor any space but " ")
        return None
    for position, char in enumerate(value):
        if is_surrogate(char) or is_control(char):
            return position, char
    return None


_C0_NAMES = {0: "NULL", 7: "BELL", 8: "BACKSPACE", 9: "TAB", 10: "LINE FEED", 13: "CARRIAGE RETURN", 27: "ESCAPE"}


def describe(char: str) -> str:
    """A character named for a CRM user, never the character itself: `U+001B (ESCAPE)`."""
    if is_surrogate(char):
        name = "half of a character cut in two"
    else:
        name = unicodedata.name(char, "") or _C0_NAMES.get(ord(char), "control character")
    return f"U+{ord(char):04X} ({name})"


def has_visible(value: str) -> bool:
    """Whether anything in the value shows: not only spaces, zero-width and format characters, or fillers."""
    return any(char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES for char in value)


def nfc(value: str) -> str:
    """The value in Unicode normalisation form C, so what is compared and sent is the same for every producer."""
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def echoable(value: str) -> str:
    """The value with every control character and lone surrogate replaced by U+FFFD: always encodable, and inert
    in an event attribute, a log line or a terminal."""
    if first_unsafe(value) is None:
        return value
    return "".join(REPLACEMENT if is_surrogate(c) or is_control(c) else c for c in value)
