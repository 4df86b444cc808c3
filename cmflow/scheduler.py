"""What a publish run at time `now` does with every (post, channel): a pure function.

No clock, no I/O: posts, the record index, fingerprints, missing credentials and which
claims are still held by a live run are passed in, so `cmflow plan` shows exactly what
`cmflow publish` will do. `now` is the schedule's time (`--at`); `real_now` the real one,
for waits the platforms set (rate limits), which `--at` in the past must not stretch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cmflow import evergreen, vocabulary
from cmflow.config import Config
from cmflow.i18n import _, ngettext
from cmflow.ledger import Entry, Index, parse_time
from cmflow.model import Finding, Post, State, as_sent
from cmflow.timeutil import shown_iso

# How long a claim from a run cmflow cannot check (another machine, an older record) is
# taken as in progress, on the real clock; see cmflow.runlock.
DEFAULT_LEASE = timedelta(minutes=30)


class Kind(StrEnum):
    PUBLISH = "publish"
    RECONCILE = "reconcile"  # an earlier attempt may have landed: find out first
    DONE = "done"  # already published
    WAIT = "wait"  # not due yet, deferred by a rate limit, or in progress elsewhere
    SKIP = "skip"  # draft, no credentials, no adapter, disabled, failed
    INVALID = "invalid"  # due but has error findings: fails the run until fixed
    MISSED = "missed"  # later than the catch-up window: not sent
    BLOCKED = "blocked"  # needs a human decision
    UPDATE = "update"  # published, then edited: the change goes out as an edit (on_edit)
    WAITING = "waiting"  # reminded: a person posts it by hand, then `cmflow resolve`


@dataclass(frozen=True)
class Action:
    post: Post
    channel: str
    kind: Kind
    reason: str
    entry: Entry | None = None
    publication: int = 1  # 2 and more: an evergreen re-post (cmflow.evergreen)
    repost: str | None = None  # "re-post 1/3", for people

    @property
    def acts(self) -> bool:
        """Whether the run does something for this pair (sends, reconciles or records)."""
        return self.kind in (Kind.PUBLISH, Kind.RECONCILE, Kind.UPDATE) or (
            self.kind == Kind.MISSED and (self.entry is None or self.entry.state != State.MISSED)
        )


_ago = vocabulary.ago


def plan(
    posts: list[Post],
    config: Config,
    index: Index,
    now: datetime,
    *,
    fingerprints: Mapping[tuple[str, str], str],
    invalid: Holds,
    missing_secrets: Mapping[str, list[str]],
    publishable: Collection[str],
    channels: Collection[str] | None = None,
    held: Mapping[tuple[str, str], str] | None = None,
    real_now: datetime | None = None,
    missing_keys: Mapping[str, list[str]] | None = None,
) -> list[Action]:
    """One action per (post, channel), sorted by date then channel.

    `invalid`: (post path, channel) -> rule ids of the error findings that hold that pair;
    (post path, None) -> those about the post itself, which hold every channel of it (see
    `holds`). `publishable`: platforms with an
    adapter. `channels`: only these channels (all when None). `held`: claimed entries (by
    `held_key`: the entry's own post id and channel) that a live run still holds -> why; any other
    claim is reconciled. `real_now`: the real time (default: `now`). `missing_keys`:
    channel -> connection keys channels.yaml does not set yet (the channel is skipped, like
    one whose credential is missing)."""
    held = held or {}
    real_now = now if real_now is None else real_now
    # A connection key not set yet is a missing credential of another kind: same skip.
    missing: dict[str, list[str]] = {name: list(v) for name, v in missing_secrets.items()}
    for name, keys in (missing_keys or {}).items():
        if keys:
            wanted = ", ".join(f"`{k}`" for k in keys)
            missing[name] = [
                _("{keys} under channels.{channel} in channels.yaml").format(
                    keys=wanted, channel=name
                ),
                *missing.get(name, []),
            ]
    actions: list[Action] = []
    for post in posts:
        for name in post.channels:
            if channels is not None and name not in channels:
                continue
            channel = config.channels[name]
            entry = index.find(post, name)
            fp = fingerprints.get((post.id, name), "")
            actions.append(
                _decide(
                    post,
                    name,
                    entry,
                    fp,
                    config,
                    now,
                    invalid,
                    missing,
                    publishable,
                    channel.enabled,
                    held,
                    real_now,
                    index,
                )
            )
    actions += _reposts(
        posts,
        config,
        index,
        now,
        fingerprints,
        invalid,
        missing,
        publishable,
        channels,
        held,
        real_now,
    )
    actions.sort(key=lambda a: (a.post.date or now, a.channel, a.post.path, a.publication))
    return actions


def _reposts(
    posts: list[Post],
    config: Config,
    index: Index,
    now: datetime,
    fingerprints: Mapping[tuple[str, str], str],
    invalid: Holds,
    missing: Mapping[str, list[str]],
    publishable: Collection[str],
    channels: Collection[str] | None,
    held: Mapping[tuple[str, str], str],
    real_now: datetime,
) -> list[Action]:
    """The next re-post of every evergreen (post, channel) whose last publication is out:
    decided like a first publication of the same post dated at the re-post's moment (its
    own record entry; the post's current text)."""
    out: list[Action] = []
    for r in evergreen.plan(posts, config, index, now, channels=channels):
        if not r.ready:
            continue
        post = replace(r.post, date=r.when)
        if (problem := index.problem(r.post, r.channel, r.publication)) is not None:
            action = Action(
                post,
                r.channel,
                Kind.BLOCKED,
                _("record unreadable: {problem}. Fix or restore the file").format(problem=problem),
                r.entry,
            )
        else:
            action = _decide(
                post,
                r.channel,
                r.entry,
                fingerprints.get((post.id, r.channel), ""),
                config,
                now,
                invalid,
                missing,
                publishable,
                config.channels[r.channel].enabled,
                _held(held, r),
                real_now,
                index,
            )
        # `cmflow resolve` names the re-post by its number.
        pair = f"resolve {post.id} {r.channel} "
        reason = action.reason.replace(pair, f"{pair}--publication {r.publication} ")
        out.append(
            replace(
                action, publication=r.publication, repost=r.label, reason=f"{r.label}: {reason}"
            )
        )
    return out


def held_key(post_id: str, channel: str, publication: int) -> tuple[str, str]:
    """The key of a claim in `plan`'s `held`: (post id, channel), `channel@n` for re-post n."""
    return (post_id, channel if publication == 1 else f"{channel}@{publication}")


def _held(held: Mapping[tuple[str, str], str], r: evergreen.Repost) -> dict[tuple[str, str], str]:
    """The claim of re-post `r`, if a live run holds it, as `_decide` looks it up."""
    if r.entry is None:
        return {}
    why = held.get(held_key(r.entry.post, r.channel, r.publication))
    return {} if why is None else {(r.entry.post, r.channel): why}


Holds = Mapping[tuple[str, str | None], Sequence[str]]


def holds(
    findings: Iterable[Finding], channels_of: Mapping[str, Sequence[str]] | None = None
) -> dict[tuple[str, str | None], list[str]]:
    """Which pairs error findings hold: (path, channel) for a finding about a channel (a
    merged finding names several, "linkedin, site"), (path, None) for one about the post:
    without a channel (front-matter, a secret), or naming every channel of the post
    (`channels_of`: path -> its channels), like a forbidden term in the shared body."""
    channels_of = channels_of or {}
    out: dict[tuple[str, str | None], list[str]] = {}
    for f in findings:
        if f.level != "error":
            continue
        named = f.channel.split(", ") if f.channel else []
        every = channels_of.get(f.path)
        shared = not named or (len(named) > 1 and every and set(every) <= set(named))
        targets: list[str | None] = [None] if shared else list(named)
        for channel in targets:
            out.setdefault((f.path, channel), []).append(f.rule)
    return out


_SHARED_ID_RULE = "frontmatter.duplicate-id"


def _why_held(post: Post, name: str, invalid: Holds) -> str:
    """Why the errors found hold the pair (`post`, `name`). A finding about one channel holds
    that pair only; one about the post (its front-matter, a secret) holds every channel. Say
    which, so the fix is obvious."""
    about_post = invalid.get((post.path, None), ())
    about_pair = invalid.get((post.path, name), ())
    if about_post:
        scope = _("{errors} about the post: every channel waits").format(errors=_errors(about_post))
    elif about_pair:
        others = [c for c in post.channels if c != name]
        if not others:
            scope = _("{errors} on this channel")
        elif not any(invalid.get((post.path, c)) for c in others):
            scope = _("{errors} on this channel only: the others go")
        else:
            scope = _(
                "{errors} on this channel only: the others go unless held by their own errors"
            )
        scope = scope.format(errors=_errors(about_pair))
    else:
        scope = _("no valid date")
    return _("invalid: {scope} (run {command})").format(
        scope=scope, command=f"cmflow validate {post.path}"
    )


def _errors(rules: Sequence[str]) -> str:
    n = len(rules)
    return ngettext("{n} error ({rules})", "{n} errors ({rules})", n).format(
        n=n, rules=", ".join(dict.fromkeys(rules))
    )


def _edited(
    act: Callable[[Kind, str], Action],
    post: Post,
    name: str,
    entry: Entry,
    fp: str,
    config: Config,
    invalid: Holds,
    missing: Mapping[str, list[str]],
    publishable: Collection[str],
    done: str,
) -> Action:
    """A published pair whose post changed since: sent as an edit, or left with a warning."""
    channel = config.channels[name]
    if as_sent(entry.source_hash, post):
        # The post is as it was; only its rendering changed (channels.yaml, a newer cmflow).
        # Editing every published post for that would rewrite a brand's history unasked.
        return act(Kind.DONE, done)
    if _SHARED_ID_RULE in invalid.get((post.path, None), ()):
        if post.status == "draft" or post.field("status", name) == "draft":
            return act(Kind.SKIP, _("draft"))  # a draft copy is never sent, nor held
        # Another post has this id (a copied file keeps the original's `id:`): the entry may
        # be the other one's, so this is neither an edit of it nor done. Held as any error.
        return act(Kind.INVALID, _why_held(post, name, invalid))
    refused = entry.handles.get("edit_refused")
    if isinstance(refused, dict) and refused.get("fingerprint") == fp:
        return act(
            Kind.DONE,
            _(
                "{done} (edited since; the platform refused the edit: {reason}; change it by hand)"
            ).format(done=done, reason=refused.get("reason")),
        )
    if vocabulary.edit_mode(channel) != "update" or channel.platform not in publishable:
        return act(
            Kind.DONE,
            _("{done} (edited since: {fate})").format(
                done=done, fate=vocabulary.edit_fate(channel, entry.url)
            ),
        )
    errors = [*invalid.get((post.path, None), ()), *invalid.get((post.path, name), ())]
    if errors:
        return act(
            Kind.INVALID,
            _(
                "edited since it was published, with {errors}: the edit is not sent (run {command})"
            ).format(errors=_errors(errors), command=f"cmflow validate {post.path}"),
        )
    if not channel.enabled:
        return act(Kind.DONE, _("{done} (edited since; channel disabled)").format(done=done))
    if missing.get(name):
        return act(
            Kind.SKIP,
            _("edited since it was published; missing credentials: set {what}").format(
                what=", ".join(missing[name])
            ),
        )
    return act(
        Kind.UPDATE,
        _("edited since it was published: the change goes out as an edit of {what}").format(
            what=entry.url or entry.remote_id or _("the published post")
        ),
    )


def _decide(
    post: Post,
    name: str,
    entry: Entry | None,
    fp: str,
    config: Config,
    now: datetime,
    invalid: Holds,
    missing: Mapping[str, list[str]],
    publishable: Collection[str],
    enabled: bool,
    held: Mapping[tuple[str, str], str],
    real_now: datetime,
    index: Index,
) -> Action:
    channel = config.channels[name]

    def act(kind: Kind, reason: str) -> Action:
        return Action(post, name, kind, reason, entry)

    problem = index.problem(post, name)
    if problem is not None:
        # Never act on a record nobody can read: it may say "published" (docs/publishing.md, "The record").
        return act(
            Kind.BLOCKED,
            _(
                "record unreadable: {problem}. Check the account, then run {command} or "
                "`... --absent` (it rewrites the file)"
            ).format(problem=problem, command=_resolve(post, name)),
        )
    if entry is None and (old := index.renamed_from(post, name)) is not None:
        # Sent as a new post, it would go out twice; sent as an edit, a new post dated as
        # a deleted one would replace it. A person says which.
        at = shown_iso(old.published_at, config.timezone)
        where = old.url or old.remote_id or ""
        return act(Kind.BLOCKED, vocabulary.renamed(old.post, at, where))
    if entry is not None and entry.state == State.PUBLISHED:
        where = entry.url or entry.remote_id or ""
        at = shown_iso(entry.published_at, config.timezone)
        done = _("published {at} {where}").format(at=at, where=where).strip()
        if not (fp and entry.content_hash and fp != entry.content_hash):
            return act(Kind.DONE, done)
        return _edited(act, post, name, entry, fp, config, invalid, missing, publishable, done)
    if entry is not None and entry.state == State.WAITING:
        return act(
            Kind.WAITING,
            _(
                "reminder sent {at}: waiting for a person to post it, then {command} (or "
                "`--skipped`)"
            ).format(at=entry.updated_at or "", command=_resolve(post, name)),
        )
    if entry is not None and entry.state == State.SKIPPED:
        return act(
            Kind.SKIP,
            _("not posted, by choice ({when})").format(
                when=entry.updated_at or _("resolved by hand")
            ),
        )
    if entry is not None and entry.state == State.NEEDS_HUMAN:
        return act(
            Kind.BLOCKED,
            _(
                "needs a human: {reason}. Check the account, then run {command} or `... --absent`"
            ).format(reason=entry.reason or _("outcome unknown"), command=_resolve(post, name)),
        )
    if post.field("status", name) == "draft" or post.status == "draft":
        # runview leaves drafts out of its "skipped" lines by this very reason.
        return act(Kind.SKIP, _("draft"))
    if not enabled:
        return act(Kind.SKIP, _("channel disabled (enabled: false)"))
    if entry is not None and entry.state in (State.CLAIMED, State.UNKNOWN):
        holder = held.get((entry.post, entry.channel)) if entry.state == State.CLAIMED else None
        if holder is not None:
            return act(
                Kind.WAIT,
                _("{holder}, run {run} since {since}").format(
                    holder=holder,
                    run=entry.run_id,
                    since=shown_iso(entry.leased_at or entry.claimed_at, config.timezone),
                ),
            )
        if fp and entry.content_hash and fp != entry.content_hash:
            # Reconciling would look for the new text and miss the old one (docs/publishing.md, "Edits").
            return act(
                Kind.BLOCKED,
                _(
                    "edited while the outcome of the last attempt is unknown: check the "
                    "account, then {command} or `... --absent`"
                ).format(command=_resolve(post, name)),
            )
        if missing.get(name):
            return act(
                Kind.SKIP,
                _("outcome to reconcile, but credentials are missing: set {what}").format(
                    what=", ".join(missing[name])
                ),
            )
        what = (
            _("an earlier run stopped while sending it")
            if entry.state == State.CLAIMED
            else _("the last attempt's outcome is unknown")
        )
        return act(
            Kind.RECONCILE,
            _("{what}: checking whether it landed before any resend").format(what=what),
        )
    if invalid.get((post.path, None)) or invalid.get((post.path, name)) or post.date is None:
        what = _why_held(post, name, invalid)
        if post.date is not None and post.date > now:
            return act(
                Kind.SKIP,
                _("{what}, due in {time}").format(
                    what=what, time=_ago(post.date.astimezone(UTC) - now.astimezone(UTC))
                ),
            )
        return act(Kind.INVALID, what)
    if post.date > now:
        return act(
            Kind.WAIT,
            _("not due: scheduled in {time}").format(
                time=_ago(post.date.astimezone(UTC) - now.astimezone(UTC))
            ),
        )
    if channel.platform not in publishable:
        return act(
            Kind.SKIP,
            _("cmflow cannot publish to {platform} yet (validated only)").format(
                platform=channel.spec.label
            ),
        )
    if entry is not None and entry.state == State.FAILED and (not fp or fp == entry.content_hash):
        # The record's own id in the command: a renamed file's entry is under its old one.
        return act(Kind.SKIP, vocabulary.failed(entry.reason or "", entry.post, name))
    if (
        entry is not None
        and entry.state == State.MISSED
        and entry.scheduled_for == post.date.isoformat()
    ):
        return act(Kind.MISSED, entry.reason or _("missed"))
    not_before = parse_time(entry.not_before) if entry is not None else None
    # A platform's wait runs on the real clock; a run --at the future simulates it passed.
    if not_before is not None and not_before > max(now, real_now):
        return act(
            Kind.WAIT,
            _("rate limited until {time}").format(
                time=shown_iso(entry.not_before if entry else None, config.timezone)
            ),
        )
    late = now.astimezone(UTC) - post.date.astimezone(UTC)  # elapsed, across DST too
    catch_up = config.catch_up_for(channel)
    # Missed before credentials: a pair past its window is not sent whatever the secrets,
    # and `validate` (which never sees them) calls it missed too.
    if late > catch_up:
        return act(
            Kind.MISSED,
            _("due {time} ago, {why}").format(time=_ago(late), why=vocabulary.missed(catch_up)),
        )
    if missing.get(name):
        return act(
            Kind.SKIP,
            _("missing credentials: set {what}").format(what=", ".join(missing[name])),
        )
    return act(Kind.PUBLISH, vocabulary.due(late))


def _resolve(post: Post, channel: str) -> str:
    """The command that settles a pair by hand, to quote in a reason."""
    return f"`cmflow resolve {post.id} {channel} --published URL`"
