"""The `email` platform: a newsletter sent as one email over SMTP to a list address.

Named `newsletter` so that inside the package nothing shadows the standard library's `email`.

What goes out (RFC 2046, RFC 2387): `multipart/alternative` with a `text/plain` part (the
post as plain text, as social networks get it) and an HTML part (the post's Markdown as
sanitised HTML, `markup.to_html`). Images of the post follow the text: linked from
`media_base_url` when the channel sets it (the list's readers fetch them from the site), else
attached inline as `multipart/related` parts that the HTML shows through `cid:` URLs. The
subject is the post's `title` (else its first line).

Unsubscribing: the footer carries `{{unsubscribe}}`. With `unsubscribe_url`, cmflow puts that
URL there and in a `List-Unsubscribe` header (RFC 2369); without it the placeholder stays for
the list manager to fill in (most replace their own tag: set the channel's `footer` to it).

Exactly once: SMTP has no idempotency key and no way to ask the server what it accepted. The
claim records the `Message-ID` before the connection opens (`prepare`), so the record always
says which message to look for. Nothing is sent again once the DATA phase began: a
connection dropped after the message body went out (or before the server's final reply)
is UNKNOWN, and the next run, unable to ask, hands it to a human with the Message-ID to
search for in the list's archive or a subscriber's mailbox. Errors before DATA (connection
refused, 4xx to MAIL/RCPT) are RETRY: nothing was accepted. A 5xx is FAILED; a refused
login is a credential to renew.

Credentials come from the environment (`username_env`, `password_env`); the password is never
sent over a connection that is not encrypted, and no server text reaches the record without
being scrubbed of them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.errors import MissingSecret
from cmflow.i18n import _
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage

    from cmflow.model import Media, Rendered
    from cmflow.platforms.base import Adapter as AdapterProtocol

SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
PLACEHOLDER = "{{unsubscribe}}"
DEFAULT_FOOTER = "Pour ne plus recevoir cette lettre : {{unsubscribe}}"
TIMEOUT = 30.0  # seconds for each SMTP exchange

SPEC = PlatformSpec(
    name="email",
    label="Newsletter (email)",
    counter="chars",
    defaults={
        # A newsletter has room; the subject line is the title (about 70 characters show in
        # most mail clients: a warning-level matter left to `max_title_length` overrides).
        "max_length": 100_000,
        "max_title_length": 150,
        "max_media": 10,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
        "max_media_bytes": 5_000_000,
    },
    keys=(
        ConnKey("smtp_host", "SMTP server (the list manager's or your provider's)"),
        ConnKey("smtp_port", "SMTP port (default: 587 starttls, 465 tls, 25 none)", kind="int"),
        ConnKey(
            "security",
            "how the connection is encrypted: starttls (default), tls or none",
            choices=SECURITY,
        ),
        ConnKey("from", "sender, e.g. 'La Brûlerie <lettre@example.fr>'"),
        ConnKey("to", "the list's address (or several, comma-separated)"),
        ConnKey("username_env", "environment variable holding the SMTP user name", secret=True),
        ConnKey("password_env", "environment variable holding the SMTP password", secret=True),
        ConnKey("reply_to", "Reply-To address"),
        ConnKey("unsubscribe_url", "unsubscribe page or mailto: (List-Unsubscribe)"),
        ConnKey("footer", "text ending every letter ({{unsubscribe}}: the link)"),
        ConnKey("media_base_url", "public URL where media/ is served", url=True),
        ConnKey(
            "provider",
            "who sends the letter: smtp (default) or brevo (a campaign to Brevo lists)",
            choices=("smtp", "brevo"),
        ),
        ConnKey("token_env", "environment variable holding the Brevo API key", secret=True),
        ConnKey("list_ids", "Brevo: the ids of the lists that receive it", kind="list"),
        ConnKey("sender", "Brevo: the sender, e.g. 'La Brûlerie <lettre@example.fr>'"),
    ),
    capabilities=caps(Capability.TITLES, Capability.HTML, Capability.ALT_TEXT, Capability.NOTIFIES),
    variant_key="provider",
    variant_default="smtp",
    variant_required={
        "smtp": ("smtp_host", "from", "to"),
        "brevo": ("token_env", "list_ids", "sender"),
    },
    source="RFC 5321 (SMTP), RFC 2046 / 2387 (multipart), RFC 2369 (List-Unsubscribe)",
)


def message_id(key: str, sender: str) -> str:
    """The Message-ID of one attempt: from the claim's key, on the sender's domain."""
    from email.utils import parseaddr  # lazy: validation imports this module

    domain = parseaddr(sender)[1].rpartition("@")[2] or "cmflow.invalid"
    return f"<cmflow.{key[:32]}@{domain}>"


@dataclass
class _Settings:
    host: str
    port: int
    security: str
    sender: str
    to: list[str]
    reply_to: str | None
    unsubscribe: str | None
    footer: str
    media_base_url: str | None


class Adapter:
    """A newsletter channel: over SMTP (default) or through Brevo's campaigns
    (`provider: brevo`, see `cmflow.platforms.brevo`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        if SPEC.variant(ctx.channel.settings) == "brevo":
            from cmflow.platforms.brevo import Campaigns

            self.backend: AdapterProtocol = Campaigns(ctx)
        else:
            self.backend = SmtpSender(ctx)

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return self.backend.prepare(rendered, key)

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        return self.backend.publish(rendered, progress)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        return self.backend.reconcile(rendered, progress)


class SmtpSender:
    """Sends each post as one letter to the channel's list address over SMTP."""

    def __init__(self, ctx: Context) -> None:
        from email.utils import getaddresses

        self.ctx = ctx
        ch = ctx.channel
        security = str(ch.setting("security", "starttls"))
        base = ch.setting("media_base_url")
        self.settings = _Settings(
            host=str(ch.setting("smtp_host", "")),
            port=int(ch.setting("smtp_port", DEFAULT_PORTS.get(security, 587))),
            security=security,
            sender=str(ch.setting("from", "")),
            to=[a for _name, a in getaddresses([str(ch.setting("to", ""))]) if a],
            reply_to=str(ch.setting("reply_to")) if ch.setting("reply_to") else None,
            unsubscribe=str(ch.setting("unsubscribe_url"))
            if ch.setting("unsubscribe_url")
            else None,
            footer=str(ch.setting("footer", DEFAULT_FOOTER)),
            media_base_url=str(base).rstrip("/") if base else None,
        )
        self.user = ctx.secrets.get("username_env")
        self.password = ctx.secrets.get("password_env")
        for key in ("username_env", "password_env"):
            if ch.setting(key) and not ctx.secrets.get(key):
                raise MissingSecret(ch.name, str(ch.setting(key)))
        self.redact = Redactor([s for s in (self.user, self.password) if s])

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The Message-ID, chosen before anything is sent and recorded in the claim."""
        return {"message_id": message_id(key, self.settings.sender)}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        if done:
            return Result(Outcome.PUBLISHED, done)
        mid = str(progress.handles.get("message_id") or "")
        if not mid:
            return Result(Outcome.FAILED, reason=_("the claim has no Message-ID: run again"))
        problem = self._problem()
        if problem:
            return Result(Outcome.FAILED, reason=problem)
        progress.part_started(0)
        try:
            msg = self.build(rendered, mid, progress)
        except media_files.MediaProblem as exc:
            return Result(Outcome.FAILED, reason=str(exc))
        result = self._send(msg, mid)
        if result.outcome == Outcome.PUBLISHED:
            progress.part_done(0, result.parts[0])
        return result

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """SMTP cannot be asked what it accepted: a human searches for the Message-ID."""
        mid = progress.handles.get("message_id") or _("(none recorded)")
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "the SMTP server may have accepted the letter before the connection dropped: "
                "search the list's archive or a subscriber's mailbox for Message-ID {mid}"
            ).format(mid=mid),
        )

    # -- the letter -------------------------------------------------------------------------

    def build(self, rendered: Rendered, mid: str, progress: Progress | None = None) -> EmailMessage:
        """The letter: plain and HTML alternatives, images inline (cid:) or linked."""
        from email.message import EmailMessage
        from email.utils import format_datetime, formatdate

        s = self.settings
        part = rendered.parts[0]
        subject = subject_of(rendered)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        if s.reply_to:
            msg["Reply-To"] = s.reply_to
        started = progress.started_at if progress is not None else None
        msg["Date"] = format_datetime(started) if started else formatdate(usegmt=True)
        msg["Message-ID"] = mid
        if rendered.language:
            msg["Content-Language"] = rendered.language
        if s.unsubscribe:
            msg["List-Unsubscribe"] = f"<{s.unsubscribe}>"
        footer = s.footer.replace(PLACEHOLDER, s.unsubscribe) if s.unsubscribe else s.footer
        images = [(m, f"img{i}.{mid.strip('<>')}") for i, m in enumerate(part.media)]
        linked = s.media_base_url is not None
        plain = part.text
        if linked:
            plain += "".join(f"\n\n{self._media_url(m)}" for m, _ in images)
        if footer:
            plain += f"\n\n-- \n{footer}"
        msg.set_content(plain + "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
        srcs = [(m, self._media_url(m) if linked else "cid:" + cid) for m, cid in images]
        foot = _footer_html(footer, s.unsubscribe) if footer else ""
        document = letter_html(rendered, subject, srcs, foot)
        msg.add_alternative(document, subtype="html", charset="utf-8", cte="quoted-printable")
        if images and not linked:
            html_part = next(p for p in msg.iter_parts() if p.get_content_subtype() == "html")
            assert isinstance(html_part, EmailMessage)
            for m, cid in images:
                loaded = media_files.load(self.ctx.root, m.path)
                maintype, _ignored, subtype = loaded.mime.partition("/")
                html_part.add_related(
                    loaded.data, maintype, subtype, cid=f"<{cid}>", filename=loaded.name
                )
        return msg

    def _media_url(self, item: Media) -> str:
        return media_url(self.settings.media_base_url or "", item)

    # -- SMTP -------------------------------------------------------------------------------

    def _problem(self) -> str | None:
        from email.headerregistry import Address
        from email.utils import parseaddr

        s = self.settings
        if not s.host or not s.sender or not s.to:
            return _("set smtp_host, from and to under this channel in channels.yaml")
        try:
            Address(addr_spec=parseaddr(s.sender)[1])
        except (ValueError, IndexError):
            return _("from {sender!r} is not an email address").format(sender=s.sender)
        if self.password and s.security == "none":
            return _("security: none would send the SMTP password unencrypted: use starttls or tls")
        return None

    def _send(self, msg: EmailMessage, mid: str) -> Result:
        """One SMTP session. `phase` says what a failure proves: before DATA nothing was
        accepted (RETRY); from DATA on the server may hold the letter (UNKNOWN)."""
        import email.policy
        import smtplib
        import ssl
        from email.utils import parseaddr

        s = self.settings
        phase = "connect"
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context()
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=TIMEOUT, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    return Result(
                        Outcome.FAILED,
                        reason=_(
                            "{host} does not offer STARTTLS: set `security: tls` (port 465) if it "
                            "expects TLS from the start"
                        ).format(host=s.host),
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            phase = "login"
            if self.user and self.password:
                smtp.login(self.user, self.password)
            phase = "envelope"
            sender = parseaddr(s.sender)[1]
            code, reply = smtp.mail(sender)
            if code != 250:
                return self._refused(_("the sender"), code, reply)
            accepted = 0
            refusals: list[tuple[int, bytes]] = []
            for rcpt in s.to:
                code, reply = smtp.rcpt(rcpt)
                if code in (250, 251):
                    accepted += 1
                else:
                    refusals.append((code, reply))
            if not accepted:
                code, reply = refusals[0]
                return self._refused(_("the list address"), code, reply)
            phase = "data"
            # CRLF line ends (SMTP policy): smtplib sends bytes as they are.
            code, reply = smtp.data(msg.as_bytes(policy=email.policy.SMTP))
            if code != 250:
                return self._refused(_("the letter"), code, reply)
            phase = "done"
        except smtplib.SMTPAuthenticationError as exc:
            names = " and ".join(
                str(self.ctx.channel.setting(k)) for k in ("username_env", "password_env")
            )
            return Result(
                Outcome.FAILED,
                reason=_("{host} refused the login ({smtp_code}): check {names}").format(
                    host=s.host, smtp_code=exc.smtp_code, names=names
                ),
                needs_reauth=True,
            )
        except smtplib.SMTPDataError as exc:
            return self._refused(_("the letter"), exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            what = self.redact.text(f"{type(exc).__name__}: {exc}")[:200]
            if phase in ("data", "done"):
                return Result(
                    Outcome.UNKNOWN,
                    reason=_(
                        "the connection to {host} failed while the letter was being delivered "
                        "({what}): it may have been accepted; Message-ID {mid}"
                    ).format(host=s.host, what=what, mid=mid),
                )
            if isinstance(exc, ssl.SSLCertVerificationError):
                return Result(
                    Outcome.FAILED,
                    reason=_("{host}'s certificate cannot be verified: {what}").format(
                        host=s.host, what=what
                    ),
                )
            return Result(
                Outcome.RETRY,
                reason=_("could not reach {host} ({what}): not sent").format(
                    host=s.host, what=what
                ),
            )
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    smtp.close()
        return Result(Outcome.PUBLISHED, [PartResult(mid, None, {"to": ", ".join(s.to)})])

    def _refused(self, what: str, code: int, reply: bytes | str) -> Result:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = self.redact.text(re.sub(r"\s+", " ", text).strip())[:200]
        reason = _("{host} refused {what}: {code} {text}").format(
            host=self.settings.host, what=what, code=code, text=text
        )
        if 400 <= code < 500:  # a temporary refusal: nothing was accepted, try later
            return Result(Outcome.RETRY, reason=reason)
        return Result(Outcome.FAILED, reason=reason)


def media_url(base: str, item: Media) -> str:
    """Where a repository media file is served below `media_base_url`."""
    return f"{base}/{quote(item.path.removeprefix('media/'))}"


def letter_html(
    rendered: Rendered, subject: str, images: list[tuple[Media, str]], footer_html: str
) -> str:
    """The letter as an HTML document: the post's sanitised HTML, its images (`src` given),
    the footer."""
    body = rendered.html if rendered.html is not None else _plain_html(rendered.parts[0].text)
    figures = "".join(
        f'<p><img src="{html.escape(src)}" alt="{html.escape(m.alt or "")}" '
        'style="max-width:100%;height:auto"></p>\n'
        for m, src in images
    )
    lang = f' lang="{html.escape(rendered.language)}"' if rendered.language else ""
    return (
        f'<!DOCTYPE html>\n<html{lang}><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{body}\n{figures}{footer_html}"
        "</body></html>\n"
    )


def subject_of(rendered: Rendered) -> str:
    return rendered.title or _first_line(rendered.parts[0].text) or rendered.post_id


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:150] if text.strip() else ""


def _plain_html(text: str) -> str:
    """Plain text as HTML paragraphs (a reminder has no Markdown source)."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paras
    )


def _footer_html(footer: str, url: str | None) -> str:
    text = html.escape(footer)
    if url:
        link = f'<a href="{html.escape(url)}">{html.escape(url)}</a>'
        text = text.replace(html.escape(url), link)
    return f'<hr>\n<p style="font-size:small">{text}</p>\n'
