"""The redactor masks every form of every secret, whatever the case, from any thread.

It compiles its pattern when first needed and passes over a text in which no form of a
secret appears without running the pattern: these tests hold it to the same answer as the
plain case-insensitive pattern over every form, on ASCII text (the quick check) and on
text with other characters (the pattern itself), including the characters Python's
case-insensitive matching treats as equal to ASCII letters (ſ and s, K and k).
"""

from __future__ import annotations

import random
import re
import threading

from cmflow.redact import MASK, Redactor

WEBHOOK = (
    "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcd"
)
TOKEN = "111111:AAH-bot_Token-Secret"


def reference(redactor: Redactor, text: str) -> str:
    """What the redactor must answer: every form, case-insensitively, longest first."""
    if not redactor.forms:
        return text
    pattern = re.compile("|".join(re.escape(f) for f in redactor.forms), re.IGNORECASE)
    return pattern.sub(MASK, text)


def disguise(text: str, rng: random.Random) -> str:
    """`text` in another case, some letters swapped for the characters case-insensitive
    matching takes for them (ſ for s, the Kelvin sign for k)."""
    out = []
    for c in text:
        c = c.upper() if rng.random() < 0.5 else c.lower()
        if c in "sS" and rng.random() < 0.2:
            c = "ſ"
        elif c in "kK" and rng.random() < 0.2:
            c = "\u212a"
        out.append(c)
    return "".join(out)


def test_every_form_is_masked_in_any_case() -> None:
    r = Redactor([WEBHOOK, TOKEN])
    for form in r.forms:
        for shown in (form, form.upper(), form.lower()):
            for text in (f"error: {shown} refused", f"erreur é: {shown} refusé"):
                masked = r.text(text)
                assert shown not in masked and MASK in masked, (shown, masked)


def test_the_quick_check_never_lets_a_secret_through() -> None:
    rng = random.Random(7)
    fillers = ["", "ok ", "https://exemple.fr/a?b=c ", "é ", "ſ", "\u212a", "İ", "\n", "%2F"]
    ascii_only = Redactor([WEBHOOK, TOKEN])  # the quick check applies to ASCII texts
    mixed = Redactor([TOKEN, "clé-secrète-été", "ſecret-Kelvin-\u212a", "İstanbul-token"])
    for r in (ascii_only, mixed):
        for _ in range(3000):
            pieces = [rng.choice(fillers) for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.7:
                form = rng.choice(r.forms)
                cut = rng.randint(len(form) // 2, len(form))  # sometimes only a piece of it
                shown = disguise(form[:cut], rng) if rng.random() < 0.7 else form[:cut]
                pieces.insert(rng.randint(0, len(pieces)), shown)
            text = "".join(pieces)
            assert r.text(text) == reference(r, text), text


def test_a_secret_added_later_is_masked_by_every_thread() -> None:
    r = Redactor(["first-secret-value"])
    assert r.text("first-secret-value and second-secret-value") == (
        f"{MASK} and second-secret-value"
    )
    r.add("second-secret-value")
    seen: list[str] = []

    def work() -> None:
        for _ in range(50):
            seen.append(r.text("SECOND-SECRET-VALUE, first-secret-value"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen) == {f"{MASK}, {MASK}"}


def test_a_redactor_without_secrets_returns_the_text() -> None:
    r = Redactor([])
    assert r.text("rien à cacher") == "rien à cacher"
    assert r(None) is None and r("") == ""
