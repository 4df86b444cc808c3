"""The words for a (post, channel) pair's state, shared by `validate`, `plan` and `publish`,
so that a community manager reads the same state under the same name in every command."""

from __future__ import annotations

from datetime import timedelta

from cmflow.timeutil import format_duration


def ago(d: timedelta) -> str:
    """`12 min`, `5 h`, `3 days`: how long ago, rounded the way people say it."""
    s = int(d.total_seconds())
    if s < 3600:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def missed(catch_up: timedelta) -> str:
    """Why a due pair later than its catch-up window is `missed`: recorded, never sent."""
    return (
        f"beyond the {format_duration(catch_up)} catch-up window, it is not sent "
        "(change its date to send it)"
    )


def due(late: timedelta) -> str:
    """Why a due pair within its catch-up window is `publish`."""
    return f"due {ago(late)} ago" if late >= timedelta(minutes=1) else "due now"
