"""A queue message's or HTTP body's bytes to JSON, bounded: size, encoding, nesting, number length, names given twice.

Every way a text can fail here is a FieldError, never an exception: Python's json module raises RecursionError on deep
nesting and ValueError on an integer longer than the int-string limit (4,300 digits), and neither is a
JSONDecodeError.

Every step is linear in the text, so no body up to a route's limit can hold a worker (this runs on the event loop):
the size is checked before anything is read; the text is parsed once by the json module's C scanner (nesting past
the interpreter's recursion limit raises RecursionError there, at once); the nesting of what parsed is then measured
on its brackets alone with C-level passes; the slower parse that names over-long integers runs only when the text
holds such a run of digits. bench/fuzz.py aims adversarial bodies at each step and reports the slowest.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from handlers.domain.field_errors import FieldError
from handlers.domain.text import echoable

MAX_MESSAGE_BYTES = 64 * 1024
MAX_DEPTH = 32  # a request nests 3 levels; CRM metadata a few more
_MAX_DIGITS = min(sys.get_int_max_str_digits() or 4300, 4300)
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
# A JSON string, unrolled ([^"\\]* then escape pairs): each character is read once, never retried from a later quote.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Outside its strings, JSON that parsed is ASCII: whitespace, separators, numbers, literals (json.loads also takes
# NaN and Infinity) and brackets. Everything but the brackets is deleted; both kinds become [ and ].
_NOT_A_BRACKET = b" \t\r\n,:0123456789+-.eEtruefalsnNaIiy"
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_LONG_DIGITS = re.compile(rf"\d{{{_MAX_DIGITS + 1}}}")


class TooLongNumber:
    """Stands in for an integer longer than Python reads (so the error can name the field holding it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<number of more than 4300 digits>"


TOO_LONG_NUMBER = TooLongNumber()


def _error(code: str, message: str) -> FieldError:
    return FieldError(field=None, code=code, message=message)


@contextlib.contextmanager
def without_collection() -> Iterator[None]:
    """The garbage collector paused while an untrusted body is parsed: a parse builds a tree (no cycles to collect),
    and a body of many small containers would otherwise run the collector over and over (a 256 KiB body of empty
    arrays: 44 ms with it, 8 ms without)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _too_deep(text: str) -> bool:
    """Whether well-formed JSON nests objects or arrays more than MAX_DEPTH deep: its brackets outside strings, with
    the innermost pairs peeled away MAX_DEPTH times (each pass one C-level replace, which peels exactly one level:
    it does not rescan what it joined); anything left was deeper. Only for text json.loads accepted, whose brackets
    are balanced."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # cannot be too deep: the common case costs two counts
    outside = _STRING.sub("", text).encode("ascii", "replace")
    brackets = outside.translate(_ONE_KIND, _NOT_A_BRACKET)
    for _ in range(MAX_DEPTH):
        peeled = brackets.replace(b"[]", b"")
        if peeled == brackets:
            return False
        brackets = peeled
    return bool(brackets)


def _text_of(body: bytes) -> str | FieldError:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _error("not_utf8", "The message is not UTF-8 text.")
    stripped = text.strip()
    if stripped and stripped[0] not in '{["' and _BASE64.fullmatch(stripped):
        # A producer that base64-encoded the JSON although host.json says "none": accept it.
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            text = base64.b64decode(stripped, validate=False).decode("utf-8-sig")
    return text


def read_json(body: bytes) -> tuple[Any, list[FieldError]]:
    """The JSON value of a queue message and what makes it unreadable (see `loads`). Never raises."""
    if len(body) > MAX_MESSAGE_BYTES:
        return None, [_error("too_large", f"The message is larger than {MAX_MESSAGE_BYTES // 1024} KiB.")]
    text = _text_of(body)
    if isinstance(text, FieldError):
        return None, [text]
    return loads(text)


def loads(text: str, what: str = "message") -> tuple[Any, list[FieldError]]:
    """JSON text's value and what makes it unreadable: nothing; one error for the whole `what` (the value is then
    None: not JSON, too deep); or an error per integer too long to read and per name given twice in one object,
    naming where. Never raises."""
    too_deep = [_error("too_deep", f"The {what} nests objects or arrays more than {MAX_DEPTH} levels deep.")]
    too_long: list[bool] = []
    twice: list[str] = []

    def integer(digits: str) -> int | TooLongNumber:
        if len(digits.lstrip("-")) > _MAX_DIGITS:
            too_long.append(True)
            return TOO_LONG_NUMBER
        return int(digits)

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)  # the last value of a name given twice, as json.loads has it
        if len(found) != len(pairs):
            seen: set[str] = set()
            for name, _ in pairs:
                if name in seen:
                    twice.append(name)
                seen.add(name)
        return found

    # Only a text holding a run of over-long digits pays for a Python call per integer.
    slow_integers = integer if _LONG_DIGITS.search(text) else None
    try:
        with without_collection():
            value = json.loads(text, parse_int=slow_integers, object_pairs_hook=members)
    except RecursionError:  # nested past the interpreter's recursion limit: refused by the C scanner at once
        return None, too_deep
    except ValueError:  # JSONDecodeError is a ValueError
        return None, [_error("not_json", f"The {what} is not valid JSON.")]
    if _too_deep(text):
        return None, too_deep
    errors = [
        FieldError(field=echoable(name)[:200], code="duplicate_name",
                   message=f"{echoable(name)[:200]} is given more than once in one object: give it once.")
        for name in dict.fromkeys(twice)
    ]  # fmt: skip
    if too_long:
        errors += [
            FieldError(
                field=path or None,
                code="number_too_long",
                message=f"{path or f'The {what}'} holds an integer of more than {_MAX_DIGITS} digits.",
            )
            for path in _too_long_numbers(value)
        ]
    return value, errors


def _too_long_numbers(value: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    """The dotted paths of every integer too long to read (the value is at most MAX_DEPTH deep)."""
    if value is TOO_LONG_NUMBER:
        return [echoable(".".join(str(part) for part in path))[:200]]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _too_long_numbers(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _too_long_numbers(item, (*path, index))]
    return []
