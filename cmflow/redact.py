"""Keep secrets out of everything cmflow prints or writes."""

from __future__ import annotations

import base64
import json
import re
import threading
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from cmflow.i18n import _

MASK = "***"
# How much of a server's error text a reason quotes.
EXCERPT = 300
_SPACE_RE = re.compile(r"\s+")


def _b64_cores(raw: bytes) -> set[str]:
    """The base64 text of `raw` wherever it sits in a longer encoded value: for each of the
    three alignments, the characters that depend on `raw` alone (a header dump encoded
    whole, e.g. `Authorization: Bearer <token>`, never contains the token's own encoding)."""
    cores: set[str] = set()
    for shift in range(3):
        for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
            enc = alphabet(b"\0" * shift + raw).decode()
            start = 4 if shift else 0
            end = len(enc) - 4 if (shift + len(raw)) % 3 else len(enc)
            core = enc[start:end]
            if len(core) >= 8:
                cores.add(core)
    return cores


def forms_of(secret: str) -> set[str]:
    """The ways a secret may come back in a server's text: raw, URL-encoded, JSON-escaped
    (with and without `\\/`), base64 (standard and URL-safe, at any alignment)."""
    json_form = json.dumps(secret)[1:-1]
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json_form,
        json_form.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/"),
        base64.b64encode(secret.encode()).decode(),
    }
    forms |= _b64_cores(secret.encode())
    # A webhook URL's last path segment is its token: mask it on its own too.
    if "://" in secret:
        tail = secret.rstrip("/").rsplit("/", 1)[-1]
        if len(tail) >= 8:
            forms |= forms_of(tail)
    return {f for f in forms if len(f) >= 4}


def one_line(text: str) -> str:
    """Text on one line: every run of whitespace (line breaks included) becomes one space,
    other control characters are dropped."""
    text = _SPACE_RE.sub(" ", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cc").strip()


def unsendable(value: str) -> str | None:
    """What makes a credential impossible to send in an HTTP request, or None if it can be.

    Says what is wrong and where, never the value itself."""
    if not value:
        return _("is empty")
    if value != value.strip():
        return _("starts or ends with a space or a line break")
    for i, c in enumerate(value, 1):
        if c in "\r\n":
            return _("contains a line break at character {at}").format(at=i)
        if unicodedata.category(c) == "Cc":
            return _("contains a control character at character {at}").format(at=i)
        if ord(c) > 0xFF:
            return _("contains {char} at character {at}, which HTTP headers cannot carry").format(
                char=f"U+{ord(c):04X}", at=i
            )
    return None


class Redactor:
    """Replaces every known secret (in every form `forms_of` lists) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: list[str] = []
        self.forms: list[str] = []
        # The forms lower-cased when they are all ASCII (see `text`), else None.
        self._lowered: tuple[list[str], list[str] | None] = ([], None)
        # The pattern and the forms it was compiled from: compiled when first needed.
        self._compiled: tuple[list[str], re.Pattern[str]] | None = None
        self._compiling = threading.Lock()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Also mask these (e.g. session tokens obtained during the run)."""
        fresh = [s for s in secrets if s and len(s) >= 4 and s not in self._secrets]
        if not fresh:
            return
        self._secrets += fresh
        forms: set[str] = set(self.forms)
        for s in fresh:
            forms |= forms_of(s)
        ordered = sorted(forms, key=len, reverse=True)
        ascii_only = all(f.isascii() for f in ordered)
        self._lowered = (ordered, [f.lower() for f in ordered] if ascii_only else None)
        self.forms = ordered

    def __call__(self, text: str | None) -> str | None:
        return self.text(text) if text else text

    def text(self, text: str) -> str:
        if not self.forms or not text:
            return text
        forms, compiled = self.forms, self._compiled  # another thread may `add` meanwhile
        lowered = self._lowered
        if lowered[0] is forms and lowered[1] is not None and text.isascii():
            # ASCII text, ASCII forms: the pattern's case-insensitive match is ASCII's, so a
            # text in which no form appears, lower-cased, has nothing to mask. Most texts
            # (a post's address) are that, and the pattern costs a fifth of a millisecond.
            low = text.lower()
            if not any(f in low for f in lowered[1]):
                return text
        if compiled is not None and compiled[0] is forms:
            pattern = compiled[1]
        else:
            with self._compiling:  # once, however many threads ask at the same time
                compiled = self._compiled
                if compiled is not None and compiled[0] is forms:
                    pattern = compiled[1]
                else:
                    # Case-insensitive: percent-encodings may use either case of hex digits,
                    # and some servers echo a header lower-cased. Compiled on first use, not
                    # when made: every adapter of a run makes one, most never have a
                    # server's text to scrub, and the compilation costs milliseconds.
                    pattern = re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)
                    self._compiled = (forms, pattern)
        return pattern.sub(MASK, text)

    def excerpt(self, text: str, limit: int = EXCERPT) -> str:
        """A server's text made fit for a reason: masked FIRST, then put on one line, then cut
        to `limit` characters. Cutting first could split a secret so that the mask no longer
        recognises what is left of it."""
        short = one_line(self.text(text))
        return short if len(short) <= limit else short[: limit - 1].rstrip() + "…"

    def github_masks(self) -> list[str]:
        """`::add-mask::` lines, one per secret form, printed before anything else."""
        from cmflow.output import workflow_command

        lines: list[str] = []
        for form in self.forms:
            # The runner masks line by line: a value on several lines is masked line by line.
            for piece in form.splitlines() if ("\n" in form or "\r" in form) else [form]:
                if len(piece.strip()) >= 4:
                    lines.append(workflow_command("add-mask", piece))
        return lines
