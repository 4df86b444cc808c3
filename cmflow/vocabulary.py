"""The words for a (post, channel) pair's state, shared by `validate`, `plan` and `publish`,
so that a community manager reads the same state under the same name in every command."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from cmflow.i18n import _, ngettext
from cmflow.platforms.spec import Capability
from cmflow.timeutil import format_duration

if TYPE_CHECKING:
    from cmflow.config import Channel


def ago(d: timedelta) -> str:
    """`12 min`, `5 h`, `3 days`: how long ago, rounded the way people say it."""
    s = int(d.total_seconds())
    if s < 3600:
        return _("{n} min").format(n=s // 60)
    if s < 172800:
        return _("{n} h").format(n=s // 3600)
    return ngettext("{n} day", "{n} days", s // 86400).format(n=s // 86400)


def missed(catch_up: timedelta) -> str:
    """Why a due pair later than its catch-up window is `missed`: recorded, never sent."""
    return _(
        "beyond the {window} catch-up window, it is not sent (change its date to send it)"
    ).format(window=format_duration(catch_up))


def failed(reason: str, post_id: str, channel: str) -> str:
    """Why a pair the platform refused is not sent again as it is: it goes again once the
    post changes, or when a person says so (after fixing what was wrong elsewhere, such as
    channels.yaml or the account)."""
    return _(
        "failed: {reason}; it goes again once what this channel would receive changes, or "
        "run {command} to send it as it is"
    ).format(
        reason=reason or _("refused by the platform"),
        command=f"`cmflow resolve {post_id} {channel} --absent --force`",
    )


def renamed(old_id: str, at: str, where: str) -> str:
    """Why a post that looks like a published one renamed and edited is held."""
    return _(
        "looks like the post published {at} {where} as {id}, renamed and edited: add `id: "
        "{id}` to its front-matter to keep it the same post (the change then goes out as an "
        "edit), or an `id:` of its own to publish it as a new post"
    ).format(id=old_id, at=at, where=where)


def due(late: timedelta) -> str:
    """Why a due pair within its catch-up window is `publish`."""
    if late >= timedelta(minutes=1):
        return _("due {time} ago").format(time=ago(late))
    return _("due now")


def edit_mode(channel: Channel) -> str:
    """`update` when an edit of a published post is sent to `channel`, else `warn`: the
    channel's `on_edit`, by default `update` for the feed (cmflow writes those pages itself)
    and `warn` elsewhere. A platform that cannot edit is always `warn`."""
    if not channel.spec.can(Capability.EDITS):
        return "warn"
    mode = channel.setting("on_edit")
    if mode in ("update", "warn"):
        return str(mode)
    # A platform that writes its own files (the site) re-renders: nobody else can.
    return "update" if channel.spec.can(Capability.WRITES_FILES) else "warn"


def edit_fate(channel: Channel, url: str | None) -> str:
    """What becomes of an edit of a published post on `channel`, in the words `validate`
    and `plan` share."""
    if edit_mode(channel) == "update":
        return _("the next publish run sends the change as an edit")
    if not channel.spec.can(Capability.EDITS):
        if url:
            return _(
                "the change will not be sent: {platform} cannot edit a post, change it by "
                "hand at {url}"
            ).format(platform=channel.spec.label, url=url)
        return _(
            "the change will not be sent: {platform} cannot edit a post, change it by hand"
        ).format(platform=channel.spec.label)
    if url:
        return _(
            "the change will not be sent (set `on_edit: update` on {channel} to send "
            "edits); change it by hand at {url}"
        ).format(channel=channel.name, url=url)
    return _(
        "the change will not be sent (set `on_edit: update` on {channel} to send "
        "edits); change it by hand"
    ).format(channel=channel.name)
