"""The local console: untrusted ids never reach the terminal as raw control characters."""

from __future__ import annotations

import io
import logging

from devhost.console import DimensionFormatter, printable


def test_control_characters_in_messages_dimensions_and_tracebacks_are_escaped() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(DimensionFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("console.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad \x1b[31m value")
        except ValueError:
            logger.exception(
                "Invalid request %s",
                "crm-\x1b[2J\x07\x7f",
                extra={"requestId": "\x1b]0;x\x07", "crmAccountId": "a\r\nb"},
            )
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert not any(char in text for char in "\x1b\x07\x7f\r")
    assert "crm-\\x1b[2J\\x07\\x7f" in text and "bad \\x1b[31m value" in text
    assert text.splitlines()[0].startswith("ERROR Invalid request crm-")  # the message stays one line
    assert "Traceback (most recent call last):" in text  # a traceback keeps its lines


def test_printable_keeps_text_that_shows() -> None:
    assert printable("Mölndal 株式会社 \u00a0x") == "Mölndal 株式会社 \u00a0x"
    assert printable("a\ud800b") == "a\\ud800b"
    assert printable("line\nbreak") == "line\\nbreak"
    assert printable("line\nbreak", keep_newlines=True) == "line\nbreak"
