"""The `manual` platform: networks a brand cannot publish to through an API, posted by a person.

Why there is no API for a brand's posts there (checked against each network's developer
documentation; see the README):

- Snapchat: the public APIs (Snap Kit, Marketing API) share content into the app for a user
  to post, or run ads; nothing posts a Story or Spotlight for a public profile.
- WhatsApp Channels: the WhatsApp Business Platform sends messages to people who opted in;
  it has no call that posts an update to a Channel.
- Messenger: the Send API only answers people who wrote to the Page first (24-hour window),
  and Pages have no broadcast or feed in Messenger.
- Instagram Stories: the Graph API publishes Stories only for Business accounts through
  Meta review; other accounts post them in the app (the `instagram` platform covers posts).

So, at the post's due time, the publish run sends the person on duty a reminder through the
channel named by `notify` (a Slack, Discord, Telegram or email channel of the brand): the
ready-to-post text counted against the network's limit, the media (links from
`media_base_url`, else their paths), and a link to the post file (`files_url`). The pair is
then recorded as `waiting` until `cmflow resolve POST CHANNEL --published URL` (or
`--skipped`) closes it.

Exactly once: the reminder is an ordinary publication of the notify channel's adapter
through the pair's own claim and record. The claim holds the notify adapter's handles (an
email's Message-ID); each reminder message is recorded the moment it is sent; a reminder whose
outcome is unknown is never sent again blindly (the notify adapter reconciles, or a human).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import counting, i18n
from cmflow.errors import MissingSecret
from cmflow.i18n import _
from cmflow.model import Link, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from cmflow.config import Channel
    from cmflow.platforms.base import Adapter as AdapterProtocol

_IMAGES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
_VIDEOS = ["video/mp4", "video/quicktime"]

# Each network's label and limits for what the person posts. Sources: Snapchat caption
# 250 characters (third-party guides; Snapchat documents none); WhatsApp text 4,096 and
# media captions 1,024 (WhatsApp Business Platform message limits, the same in Channels);
# Messenger text 2,000 (Messenger Platform Send API reference); Instagram caption 2,200
# (Instagram Graph API media reference), Stories take one image or video per frame.
NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "snapchat": (
        "Snapchat",
        {
            "max_length": 250,
            "require_media": True,
            "max_media": 10,
            "media_types": _IMAGES + _VIDEOS,
        },
    ),
    "whatsapp": (
        "WhatsApp Channels",
        {
            "max_length": 4096,
            "max_caption_length": 1024,
            "max_media": 10,
            "media_types": _IMAGES + _VIDEOS,
        },
    ),
    "messenger": (
        "Messenger",
        {"max_length": 2000, "max_media": 10, "media_types": _IMAGES + _VIDEOS},
    ),
    "instagram-stories": (
        "Instagram Stories",
        {
            "max_length": 2200,
            "require_media": True,
            "max_media": 10,
            "media_types": ["image/jpeg", "image/png", *_VIDEOS],
        },
    ),
    "facebook-stories": (
        "Facebook Stories",
        {
            "max_length": 2200,
            "require_media": True,
            "max_media": 10,
            "media_types": _IMAGES + _VIDEOS,
        },
    ),
    "other": ("another network", {}),
}

SPEC = PlatformSpec(
    name="manual",
    label="posted by hand (reminder)",
    counter="chars",
    defaults={"media_types": _IMAGES + _VIDEOS},
    keys=(
        ConnKey(
            "network",
            "the network a person posts to: " + ", ".join(NETWORKS),
            required=True,
            choices=tuple(NETWORKS),
        ),
        ConnKey(
            "notify",
            "channel of the brand that carries the reminder (Slack, Discord, Telegram, email)",
            required=True,
            channel_with=Capability.NOTIFIES,
        ),
        ConnKey(
            "files_url",
            "URL where the repository's files are browsed, e.g. "
            "https://github.com/org/repo/blob/main",
            url=True,
        ),
        ConnKey("media_base_url", "public URL where media/ is served", url=True),
    ),
    capabilities=caps(Capability.REMINDS, Capability.ALT_TEXT),
    variant_key="network",
    variant_default="other",
    variant_defaults={name: limits for name, (_, limits) in NETWORKS.items()},
    source="see NETWORKS in cmflow/platforms/manual.py",
)


def network_label(settings: Mapping[str, Any]) -> str:
    return NETWORKS.get(SPEC.variant(settings), NETWORKS["other"])[0]


class _Relay:
    """The notify adapter's side of the pair's progress: its own handles, the same record."""

    def __init__(self, progress: Progress, handles: Mapping[str, Any]) -> None:
        self.progress = progress
        self._handles = dict(handles)

    @property
    def handles(self) -> Mapping[str, Any]:
        # The notify adapter's own handles, with the part handles recorded on the pair.
        parts = self.progress.handles.get("part_handles")
        return {**self._handles, **({"part_handles": parts} if parts else {})}

    @property
    def done(self) -> list[PartResult]:
        return self.progress.done

    @property
    def started_at(self) -> datetime | None:
        return self.progress.started_at

    def part_started(self, index: int) -> None:
        self.progress.part_started(index)

    def part_done(self, index: int, result: PartResult) -> None:
        self.progress.part_done(index, result)

    def part_handle(self, index: int, name: str, value: Any) -> None:
        self.progress.part_handle(index, name, value)

    def keep(self, **handles: Any) -> None:
        # The notify adapter's handles live under the pair's `notify` handle.
        for name, value in handles.items():
            if value is None:
                self._handles.pop(name, None)
            else:
                self._handles[name] = value
        self.progress.keep(notify=dict(self._handles))


class Adapter:
    """Sends the person on duty a reminder through the `notify` channel."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ch = ctx.channel
        self.notify = str(ch.setting("notify", ""))
        self.label = network_label(ch.settings)
        files = ch.setting("files_url")
        self.files_url = str(files).rstrip("/") if files else None
        base = ch.setting("media_base_url")
        self.media_base_url = str(base).rstrip("/") if base else None
        # The reminder is written in the channel's language (the brand's by default), like
        # the post it carries, whatever language cmflow's messages are in.
        self.language = ch.language

    def _peer(self) -> AdapterProtocol:
        if self.ctx.peer is None:
            raise MissingSecret(self.ctx.channel.name, f"(the channel {self.notify})")
        return self.ctx.peer(self.notify)

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The notify adapter's handles (an email's Message-ID), recorded in the claim."""
        handles: dict[str, Any] = {"key": key}
        with contextlib.suppress(MissingSecret):  # reported when sending
            handles["notify"] = self._peer().prepare(self.reminder(rendered, None), key)
        return handles

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        reminder = self.reminder(rendered, progress.handles.get("date"))
        done = list(progress.done)
        if len(done) >= len(reminder.parts):
            return Result(Outcome.PUBLISHED, done)
        try:
            peer = self._peer()
        except MissingSecret as exc:
            return Result(
                Outcome.RETRY,
                reason=_(
                    "the reminder goes through {notify}, which cannot send yet: {error}"
                ).format(notify=self.notify, error=exc),
            )
        notify = self._notify_channel()
        if notify is not None and notify.spec.variant(notify.settings) == "brevo":
            return Result(
                Outcome.FAILED,
                reason=_(
                    "{notify} sends Brevo campaigns to whole lists: reminders go through a "
                    "channel that reaches the person on duty (an SMTP email channel whose `to` is "
                    "that person, Slack, Discord or Telegram)"
                ).format(notify=self.notify),
            )
        handles = progress.handles.get("notify")
        if not isinstance(handles, dict):
            handles = peer.prepare(reminder, str(progress.handles.get("key", rendered.post_id)))
        result = peer.publish(reminder, _Relay(progress, handles))
        if result.reason:
            result.reason = _("reminder through {notify}: {reason}").format(
                notify=self.notify, reason=result.reason
            )
        return result

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Whether the reminder went out is the notify channel's to tell."""
        try:
            peer = self._peer()
        except MissingSecret as exc:
            return Result(
                Outcome.UNKNOWN, reason=_("cannot check the reminder: {exc}").format(exc=exc)
            )
        reminder = self.reminder(rendered, progress.handles.get("date"))
        handles = progress.handles.get("notify")
        result = peer.reconcile(
            reminder, _Relay(progress, handles if isinstance(handles, dict) else {})
        )
        if result.reason:
            result.reason = _("reminder through {notify}: {reason}").format(
                notify=self.notify, reason=result.reason
            )
        return result

    # -- the reminder -----------------------------------------------------------------------

    def reminder(self, rendered: Rendered, date: Any) -> Rendered:
        """What the person on duty receives, as a post of the notify channel (split into
        several messages when it is longer than that channel takes, e.g. Discord's 2,000)."""
        notify = self._notify_channel()
        limit = notify.rules.max_length if notify is not None else None
        part = rendered.parts[0]
        _ = i18n.translation(self.language).gettext
        label = self._label(_)
        where = rendered.path or rendered.post_id
        link = f"{self.files_url}/{quote(where)}" if self.files_url and rendered.path else None
        head = [
            _("📣 To post by hand on {network}").format(network=label) + f" ({rendered.channel})",
        ]
        if date:
            head.append(_("Due: {date}").format(date=date))
        head.append(_("Post: {path}").format(path=where) + (f" — {link}" if link else ""))
        if rendered.title:
            head.append(_("Title: {title}").format(title=rendered.title))
        count = (
            _("{count}/{limit} characters").format(count=part.length, limit=rendered.limit)
            if rendered.limit
            else _("{count} characters").format(count=part.length)
        )
        head.append(_("Ready-to-post text ({count}):").format(count=count))
        # A site channel that also publishes the post serves its copy of each file.
        site = self._site_url() if rendered.canonical_url else None
        media_lines = [self._media_line(m.path, m.alt, site) for m in part.media]
        tail: list[str] = []
        if media_lines:
            tail.append(_("Media:"))
            tail.extend(media_lines)
        resolve = f"cmflow resolve {rendered.post_id} {rendered.channel}"
        tail.append(
            _("Once posted: {command} --published URL (or --skipped if it will not be)").format(
                command=resolve
            )
        )
        header, body, footer = "\n".join(head), part.text, "\n".join(tail)
        whole = f"{header}\n\n{body}\n\n{footer}"
        if limit is None or len(whole) <= limit:
            texts = [whole]
        else:
            texts = [header, *_chunks(body, limit), footer]
        subject = _("To post on {network}: {title}").format(
            network=label, title=rendered.title or rendered.post_id
        )
        return Rendered(
            post_id=rendered.post_id,
            channel=self.notify,
            platform=notify.platform if notify is not None else "",
            parts=[
                Part(t, [], [Link(s, e, u) for s, e, u in counting.find_urls(t)], len(t))
                for t in texts
            ],
            title=subject,
            language=rendered.language,
            path=rendered.path,
        )

    def _notify_channel(self) -> Channel | None:
        """The notify channel's settings (None when the run did not pass the channels)."""
        return self.ctx.channels.get(self.notify)

    def _site_url(self) -> str | None:
        for channel in self.ctx.channels.values():
            if channel.spec.can(Capability.WRITES_FILES) and channel.setting("site_url"):
                return str(channel.setting("site_url")).rstrip("/")
        return None

    def _media_line(self, path: str, alt: str | None, site: str | None) -> str:
        if self.media_base_url:
            where = f"{self.media_base_url}/{quote(path.removeprefix('media/'))}"
        elif site:
            from cmflow.platforms.feed import public_media_url

            where = public_media_url(site, path)
        else:
            where = f"{self.files_url}/{quote(path)}" if self.files_url else path
        if not alt:
            return f"- {where}"
        _ = i18n.translation(self.language).gettext
        return f"- {where}" + _(" (alt: {alt})").format(alt=alt)

    def _label(self, _: Callable[[str], str]) -> str:
        """The network's name, in the reminder's language when it is not a brand name."""
        if SPEC.variant(self.ctx.channel.settings) in set(NETWORKS) - {"other"}:
            return self.label
        return _("another network")


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at paragraph, line or word ends."""
    out: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > 0 else limit
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return out
