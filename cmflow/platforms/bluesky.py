"""Bluesky: records written to the account's repository over XRPC (AT Protocol).

One app-password session per adapter instance (`com.atproto.server.createSession` is
limited to 30 per 5 minutes and 300 per day per handle: docs.bsky.app/docs/advanced-guides/
rate-limits), reused for every call; a refused or failed login is remembered, so a run makes
at most one login attempt per channel.

Exactly once: `prepare` chooses each part's record key (a TID) before any call, and the
publisher records it in the claim. `createRecord` at a key that already holds a record fails
(today with HTTP 500, not a clean error: bluesky-social/atproto#3718), so an unclear answer
is never blindly resent: `getRecord` at that key says whether it landed, and only a proven
absence (`RecordNotFound`) allows one resend at the same key, which can never make a second
record. Lexicons: bluesky-social/atproto `lexicons/app/bsky/feed/post.json`,
`app/bsky/richtext/facet.json`, `app/bsky/embed/images.json`, `com/atproto/repo/*.json`.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmflow.errors import MissingSecret
from cmflow.http import MaybeSent, NotSent, RateLimited, retry_after_seconds
from cmflow.i18n import _
from cmflow.media import SVG, MediaProblem, inspect, load
from cmflow.model import Link
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import LANGUAGE, Capability, ConnKey, PlatformSpec, caps
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests

    from cmflow.model import Part, Rendered

POST = "app.bsky.feed.post"
MAX_IMAGES = 4  # app.bsky.embed.images: images maxLength 4
MAX_TAG_GRAPHEMES = 64  # app.bsky.richtext.facet#tag: maxGraphemes 64
MAX_REASON = 300

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable (atproto TID spec)
_TID_PATTERN = r"^[234567a-j][234567a-z]{12}$"

# A hashtag as the official client detects it (bluesky-social/atproto
# packages/api/src/rich-text/detection.ts, util.ts): '#' or fullwidth '＃' at the start of the text or
# after whitespace, not the keycap emoji (#+U+FE0F), then a run of characters other than
# whitespace and invisible joiners; trailing punctuation is not part of the tag, and a tag of
# digits and punctuation only is not one.
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
# A mention: '@' at the start, after whitespace or '(', then a handle (a domain name whose
# top-level label starts with a letter: atproto.com/specs/handle).
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"


class _Patterns:
    """The `regex` patterns, compiled on first use: validating imports this module for its
    SPEC, and compiling `\\p{P}` classes costs a noticeable part of a cached validate."""

    def __init__(self) -> None:
        import regex  # type: ignore[import-untyped, unused-ignore]

        self.tid = regex.compile(_TID_PATTERN)
        self.tag = regex.compile(rf"(?<!\S)[#＃](?!\ufe0f)([^\s{_INVISIBLE}]+)")
        self.trailing_punct = regex.compile(r"\p{P}+$")
        self.tag_wordy = regex.compile(r"[^\d\s\p{P}]")
        self.mention = regex.compile(
            rf"(?:(?<!\S)|(?<=\())@({_LABEL}(?:\.{_LABEL})+)(?![a-zA-Z0-9-])"
        )


@functools.cache
def _re() -> _Patterns:
    return _Patterns()


SPEC = PlatformSpec(
    name="bluesky",
    label="Bluesky",
    counter="graphemes",
    defaults={
        "max_length": 300,
        "max_media": 4,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
        "max_media_bytes": 2_000_000,
        # Video (not sent by the adapter yet): app.bsky.embed.video blob maxSize 100 MB,
        # 3 minutes since March 2025 (bsky.app/blog).
        "max_video_bytes": 100_000_000,
        "max_video_seconds": 180,
    },
    keys=(
        ConnKey(
            "handle",
            "account handle (or DID)",
            required=True,
            pattern=r"@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|did:[a-z]+:[A-Za-z0-9._:%-]+",
            shape="a handle such as marque.bsky.social",
        ),
        ConnKey(
            "password_env",
            "environment variable holding the app password",
            required=True,
            secret=True,
        ),
        LANGUAGE,
    ),
    capabilities=caps(Capability.THREADS, Capability.ALT_TEXT, Capability.RECONCILES),
    default_base_url="https://bsky.social",
    max_alt_length=2000,
    shorten_links=27,
    max_tags=8,
    source="bluesky-social/atproto lexicons app/bsky/feed/post.json, embed/images.json",
)


def make_tid(micros: int, clock_id: int) -> str:
    """An atproto TID (atproto.com/specs/tid): 64 bits, top bit 0, then a 53-bit microsecond
    timestamp and a 10-bit clock id, as 13 base32-sortable characters."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def clock_id_for(key: str) -> int:
    """The 10-bit TID clock id for an attempt key: stable, so keys of one claim are related."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:2], "big") & 0x3FF


def now_iso() -> str:
    """`createdAt`: ISO 8601 in UTC with a Z (lexicon format `datetime`)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_url(handle: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def rkey_of(uri: str) -> str:
    """The record key of an `at://did/collection/rkey` URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _byte_offsets(text: str) -> list[int]:
    """offsets[i] = UTF-8 byte offset of str index i (facets index bytes, not characters:
    lexicons/app/bsky/richtext/facet.json `byteSlice`)."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode("utf-8")))
    return offsets


def link_spans(part: Part) -> list[Link]:
    """The part's links: `Part.links` from the renderer, or the bare URLs in the text."""
    if part.links:
        return [lk for lk in part.links if 0 <= lk.start < lk.end <= len(part.text)]
    from cmflow import counting

    return [Link(s, e, u) for s, e, u in counting.find_urls(part.text)]


def find_tags(text: str) -> list[tuple[int, int, str]]:
    """Hashtags as (str start of '#', str end, tag without '#')."""
    from cmflow import counting

    found: list[tuple[int, int, str]] = []
    patterns = _re()
    for m in patterns.tag.finditer(text):
        tag = patterns.trailing_punct.sub("", m.group(1))
        if (
            not tag
            or not patterns.tag_wordy.search(tag)
            or counting.graphemes(tag) > MAX_TAG_GRAPHEMES
        ):
            continue
        found.append((m.start(), m.start(1) + len(tag), tag))
    return found


def find_mentions(text: str) -> list[tuple[int, int, str]]:
    """Mentions as (str start of '@', str end, handle in lower case)."""
    found: list[tuple[int, int, str]] = []
    for m in _re().mention.finditer(text):
        handle = m.group(1)
        if len(handle) > 253 or not handle.rsplit(".", 1)[-1][:1].isalpha():
            continue
        found.append((m.start(), m.end(1), handle.lower()))
    return found


@dataclass(frozen=True)
class _Session:
    did: str
    handle: str
    access_jwt: str = field(repr=False)


@dataclass(frozen=True)
class _Ref:
    """A strong ref (com.atproto.repo.strongRef): what a reply points to."""

    uri: str
    cid: str

    def json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


@dataclass(frozen=True)
class _Lookup:
    """What `getRecord` at one record key proved."""

    found: PartResult | None = None
    absent: bool = False
    reason: str = ""


class _Halt(Exception):
    """Stop publishing with this outcome (the parts done so far are added by the caller)."""

    def __init__(
        self,
        outcome: Outcome,
        reason: str,
        *,
        retry_after: float | None = None,
        needs_reauth: bool = False,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.retry_after = retry_after
        self.needs_reauth = needs_reauth

    def result(self, parts: list[PartResult]) -> Result:
        return Result(
            self.outcome,
            parts=list(parts),
            reason=self.reason,
            retry_after=self.retry_after,
            needs_reauth=self.needs_reauth,
        )


# Errors that say the session or the credential was refused (an invalid or expired access
# token is a 400 on the PDS, not a 401: checked against @atproto/pds 0.4).
_AUTH_ERRORS = frozenset(
    {
        "AuthenticationRequired",
        "AuthFactorTokenRequired",
        "AccountTakedown",
        "AccountDeactivated",
        "InvalidToken",
        "ExpiredToken",
    }
)


class Adapter:
    """Publishes a post (or a thread) as `app.bsky.feed.post` records."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.base_url = ctx.channel.base_url or "https://bsky.social"
        self.handle = str(ctx.channel.setting("handle") or "")
        self._session: _Session | None = None
        self._login_failure: _Halt | None = None
        self._redact = Redactor(v for v in ctx.secrets.values() if v)
        self._dids: dict[str, str | None] = {}  # mention handle -> did (None: does not resolve)

    # -- the contract ---------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """One TID record key per part, from the current time (+ part index, so they sort in
        thread order) and a clock id derived from `key`: chosen and recorded before any call."""
        micros = time.time_ns() // 1000
        clock = clock_id_for(key)
        return {"rkeys": [make_tid(micros + i, clock) for i in range(len(rendered.parts))]}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        try:
            rkeys = self._rkeys(rendered, progress)
            if len(done) >= len(rendered.parts):
                return Result(Outcome.PUBLISHED, parts=done)
            self._check_media(rendered, len(done))
            session = self._login()
            root = self._ref(session, done[0]) if done else None
            parent = self._ref(session, done[-1]) if len(done) > 1 else root
            for i in range(len(done), len(rendered.parts)):
                record = self._record(session, rendered, i, root, parent)
                progress.part_started(i)
                result = self._create(session, rkeys[i], record, i)
                progress.part_done(i, result)
                done.append(result)
                parent = _Ref(result.id, str(result.extra["cid"]))
                root = root or parent
        except _Halt as halt:
            return halt.result(done)
        return Result(Outcome.PUBLISHED, parts=done)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        index = len(progress.done)
        if index >= len(rendered.parts):
            return Result(Outcome.ABSENT, reason=_("no part of this post is in flight"))
        try:
            rkey = self._rkeys(rendered, progress)[index]
            session = self._login()
        except _Halt as halt:
            return Result(
                Outcome.UNKNOWN,
                reason=_("cannot check part {number}: {reason}").format(
                    number=index + 1, reason=halt.reason
                ),
                retry_after=halt.retry_after,
                needs_reauth=halt.needs_reauth,
            )
        look = self._lookup(session, rkey)
        if look.found is not None:
            return Result(Outcome.PUBLISHED, parts=[look.found])
        if look.absent:
            return Result(Outcome.ABSENT, reason=_("no record at key {rkey}").format(rkey=rkey))
        return Result(
            Outcome.UNKNOWN,
            reason=_("cannot check part {number}: {reason}").format(
                number=index + 1, reason=look.reason
            ),
        )

    # -- handles and media ----------------------------------------------------------------

    def _rkeys(self, rendered: Rendered, progress: Progress) -> list[str]:
        rkeys = progress.handles.get("rkeys")
        if (
            not isinstance(rkeys, list)
            or len(rkeys) < len(rendered.parts)
            or not all(isinstance(k, str) and _re().tid.match(k) for k in rkeys)
        ):
            raise _Halt(
                Outcome.FAILED,
                _(
                    "the claim holds no valid record key for each of the {count} part(s): it was "
                    "made for another version of this post"
                ).format(count=len(rendered.parts)),
            )
        return [str(k) for k in rkeys]

    def _check_media(self, rendered: Rendered, start: int) -> None:
        """Refuse, before any call, media that Bluesky cannot take (images only, at most 4)."""
        for i, part in enumerate(rendered.parts[start:], start):
            if len(part.media) > MAX_IMAGES:
                raise _Halt(
                    Outcome.FAILED,
                    _("part {number} has {count} images: Bluesky takes at most {limit}").format(
                        number=i + 1, count=len(part.media), limit=MAX_IMAGES
                    ),
                )
            for media in part.media:
                info = inspect(self.ctx.root, media.path)
                if info.problem is not None:
                    raise _Halt(
                        Outcome.FAILED,
                        _("media {path} {problem}").format(path=media.path, problem=info.problem),
                    )
                if not (info.mime or "").startswith("image/") or info.mime == SVG:
                    raise _Halt(
                        Outcome.FAILED,
                        _("media {path} is {mime}: cmflow posts only images to Bluesky").format(
                            path=media.path, mime=info.mime or _("of an unknown type")
                        ),
                    )

    # -- session --------------------------------------------------------------------------

    def _login(self) -> _Session:
        """The run's session: created once; a failure is remembered, never retried in-run."""
        if self._session is not None:
            return self._session
        if self._login_failure is not None:
            raise self._login_failure
        password = self.ctx.secrets.get("password_env")
        if not password:
            variable = str(self.ctx.channel.setting("password_env") or "password_env")
            raise MissingSecret(self.ctx.channel.name, variable)
        try:
            self._session = self._create_session(password)
        except _Halt as halt:
            self._login_failure = halt
            raise
        return self._session

    def _create_session(self, password: str) -> _Session:
        what = _("login as {handle}").format(handle=self.handle)
        try:
            resp = self._call(
                "POST",
                "com.atproto.server.createSession",
                json={"identifier": self.handle, "password": password},
            )
        except (NotSent, MaybeSent, RateLimited) as exc:
            # No post was attempted: whatever happened to the login, nothing was published.
            raise self._transport_halt(what, exc, Outcome.RETRY) from None
        if resp.status_code == 200:
            data = self._json(resp)
            jwt, did = data.get("accessJwt"), data.get("did")
            if isinstance(jwt, str) and jwt and isinstance(did, str) and did:
                self._redact.add(jwt)
                refresh = data.get("refreshJwt")
                if isinstance(refresh, str) and refresh:
                    self._redact.add(refresh)
                handle = data.get("handle")
                return _Session(did, handle if isinstance(handle, str) else self.handle, jwt)
            raise _Halt(
                Outcome.RETRY, _("{what}: the server answered without a session").format(what=what)
            )
        if resp.status_code == 429:
            raise self._rate_limited(what, resp)
        if resp.status_code in (400, 401, 403):
            raise _Halt(
                Outcome.FAILED,
                _(
                    "{what} refused: {reason} (use an app password in the variable named by "
                    "password_env)"
                ).format(what=what, reason=self._describe(resp)),
                needs_reauth=True,
            )
        raise _Halt(
            Outcome.RETRY,
            _("{what} failed: {reason}").format(what=what, reason=self._describe(resp)),
        )

    # -- building a record ----------------------------------------------------------------

    def _record(
        self,
        session: _Session,
        rendered: Rendered,
        index: int,
        root: _Ref | None,
        parent: _Ref | None,
    ) -> dict[str, Any]:
        part = rendered.parts[index]
        record: dict[str, Any] = {"$type": POST, "text": part.text, "createdAt": now_iso()}
        if rendered.language:
            record["langs"] = [rendered.language]
        facets = self._facets(part)
        if facets:
            record["facets"] = facets
        if part.media:
            images = [
                {"image": self._upload(session, m.path, index), "alt": m.alt or ""}
                for m in part.media
            ]
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        if root is not None and parent is not None:
            record["reply"] = {"root": root.json(), "parent": parent.json()}
        return record

    def _facets(self, part: Part) -> list[dict[str, Any]]:
        """Links (full URL behind the shown text), hashtags and resolvable mentions, indexed
        in UTF-8 bytes. The PDS does not check these ranges: they must be right here."""
        text = part.text
        at = _byte_offsets(text)
        taken: list[tuple[int, int]] = []
        facets: list[dict[str, Any]] = []

        def add(start: int, end: int, feature: dict[str, Any]) -> None:
            if any(start < e and s < end for s, e in taken):
                return  # never inside (or across) a link or another facet
            taken.append((start, end))
            facets.append(
                {
                    "$type": "app.bsky.richtext.facet",
                    "index": {"byteStart": at[start], "byteEnd": at[end]},
                    "features": [feature],
                }
            )

        for link in link_spans(part):
            add(link.start, link.end, {"$type": "app.bsky.richtext.facet#link", "uri": link.url})
        for start, end, tag in find_tags(text):
            add(start, end, {"$type": "app.bsky.richtext.facet#tag", "tag": tag})
        for start, end, handle in find_mentions(text):
            did = self._resolve(handle)
            if did is not None:
                add(start, end, {"$type": "app.bsky.richtext.facet#mention", "did": did})
        facets.sort(key=lambda f: int(f["index"]["byteStart"]))
        return facets

    def _resolve(self, handle: str) -> str | None:
        """The DID of a mentioned handle; None (no facet) when it does not resolve or the
        lookup fails: a mention is decoration, never a reason not to publish."""
        if handle not in self._dids:
            did: str | None = None
            try:
                resp = self._call(
                    "GET",
                    "com.atproto.identity.resolveHandle",
                    params={"handle": handle},
                    auth=False,
                )
                value = self._json(resp).get("did") if resp.status_code == 200 else None
                did = value if isinstance(value, str) and value.startswith("did:") else None
            except (NotSent, MaybeSent, RateLimited):
                did = None
            self._dids[handle] = did
        return self._dids[handle]

    def _upload(self, session: _Session, path: str, index: int) -> dict[str, Any]:
        """`uploadBlob` the raw bytes; the blob is content-addressed, so a resend is harmless
        (and nothing is visible until a record references it)."""
        try:
            # Read and checked now: the file may have changed since `validate`.
            loaded = load(self.ctx.root, path)
        except MediaProblem as exc:
            raise _Halt(Outcome.FAILED, str(exc)) from None
        if not loaded.mime.startswith("image/") or loaded.mime == SVG:
            raise _Halt(
                Outcome.FAILED,
                _("media {path} is {mime}: cmflow posts only images to Bluesky").format(
                    path=path, mime=loaded.mime
                ),
            )
        what = _("upload of {path} (part {number})").format(path=path, number=index + 1)
        data = loaded.data
        try:
            resp = self._call(
                "POST",
                "com.atproto.repo.uploadBlob",
                session=session,
                data=data,
                headers={"Content-Type": loaded.mime},
                idempotent=True,
            )
        except (NotSent, MaybeSent, RateLimited) as exc:
            raise self._transport_halt(what, exc, Outcome.RETRY) from None
        if resp.status_code == 200:
            blob = self._json(resp).get("blob")
            if isinstance(blob, dict) and blob.get("ref"):
                return blob
            raise _Halt(
                Outcome.RETRY, _("{what}: the server answered without a blob").format(what=what)
            )
        raise self._refusal(what, resp, unclear=Outcome.RETRY)

    # -- writing and checking a record ----------------------------------------------------

    def _create(
        self, session: _Session, rkey: str, record: dict[str, Any], index: int
    ) -> PartResult:
        """createRecord at the claimed key; on an unclear answer, check, then resend once."""
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        what = _("part {number}").format(number=index + 1)
        made, problem = self._send(session, body, what)
        if made is not None:
            return made
        # Maybe sent (5xx, dropped connection, timeout): look before any resend, since a
        # second createRecord at a taken key is a 500 today (bluesky-social/atproto#3718).
        look = self._lookup(session, rkey)
        if look.found is not None:
            return look.found
        if not look.absent:
            raise _Halt(
                Outcome.UNKNOWN,
                _("{what}: {problem}; then {reason}").format(
                    what=what, problem=problem, reason=look.reason
                ),
            )
        try:
            made, problem = self._send(session, body, what)
        except _Halt as halt:
            if halt.outcome is not Outcome.FAILED or halt.needs_reauth:
                raise
            # A refusal of the resend may just mean the first attempt landed meanwhile.
            look = self._lookup(session, rkey)
            if look.found is not None:
                return look.found
            raise
        if made is not None:
            return made
        look = self._lookup(session, rkey)
        if look.found is not None:
            return look.found
        raise _Halt(
            Outcome.UNKNOWN,
            _("{what}: {problem} twice; then {reason}").format(
                what=what, problem=problem, reason=look.reason
            ),
        )

    def _send(
        self, session: _Session, body: dict[str, Any], what: str
    ) -> tuple[PartResult | None, str]:
        """One createRecord: the part, or None and why the outcome is unclear; raises _Halt
        when the answer is definite (refused, rate limited, not sent)."""
        try:
            resp = self._call("POST", "com.atproto.repo.createRecord", session=session, json=body)
        except (NotSent, RateLimited) as exc:
            raise self._transport_halt(what, exc, Outcome.RETRY) from None
        except MaybeSent as exc:
            return None, _("no answer ({error})").format(error=exc)
        if resp.status_code == 200:
            data = self._json(resp)
            uri, cid = data.get("uri"), data.get("cid")
            if isinstance(uri, str) and isinstance(cid, str):
                return self._part(session, uri, cid), ""
            return None, _("HTTP 200 without a uri and cid")
        if resp.status_code == 408 or resp.status_code >= 500:
            return None, self._describe(resp)
        raise self._refusal(what, resp, unclear=Outcome.UNKNOWN)

    def _lookup(self, session: _Session, rkey: str) -> _Lookup:
        """`getRecord` at `rkey`: found, proven absent (`RecordNotFound`), or unclear."""
        try:
            resp = self._call(
                "GET",
                "com.atproto.repo.getRecord",
                session=session,
                params={"repo": session.did, "collection": POST, "rkey": rkey},
            )
        except (NotSent, MaybeSent, RateLimited) as exc:
            return _Lookup(reason=_("getRecord failed ({exc})").format(exc=exc))
        if resp.status_code == 200:
            data = self._json(resp)
            uri, cid = data.get("uri"), data.get("cid")
            if isinstance(uri, str) and isinstance(cid, str):
                return _Lookup(found=self._part(session, uri, cid))
            return _Lookup(reason=_("getRecord answered HTTP 200 without a uri and cid"))
        # A missing record is HTTP 400 `RecordNotFound` (checked against @atproto/pds 0.4).
        if resp.status_code in (400, 404) and self._error(resp)[0] == "RecordNotFound":
            return _Lookup(absent=True)
        return _Lookup(reason=_("getRecord failed: {reason}").format(reason=self._describe(resp)))

    def _ref(self, session: _Session, done: PartResult) -> _Ref:
        """A strong ref to an already published part: its cid is recorded in `extra`; an
        older record without it is completed with `getRecord`."""
        cid = done.extra.get("cid")
        if isinstance(cid, str) and cid:
            return _Ref(done.id, cid)
        look = self._lookup(session, rkey_of(done.id))
        if look.found is not None and look.found.id == done.id:
            return _Ref(done.id, str(look.found.extra["cid"]))
        raise _Halt(
            Outcome.RETRY,
            _("cannot reply to {post}: its cid is not recorded and {reason}").format(
                post=done.id, reason=look.reason or _("the record is gone")
            ),
        )

    def _part(self, session: _Session, uri: str, cid: str) -> PartResult:
        return PartResult(uri, post_url(session.handle, rkey_of(uri)), {"cid": cid})

    # -- HTTP and errors ------------------------------------------------------------------

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        session: _Session | None = None,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        hdrs = dict(headers or {})
        if session is not None and auth:
            hdrs["Authorization"] = f"Bearer {session.access_jwt}"
        return self.ctx.http.request(method, f"{self.base_url}/xrpc/{nsid}", headers=hdrs, **kwargs)

    @staticmethod
    def _json(resp: requests.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _error(self, resp: requests.Response) -> tuple[str, str]:
        """The XRPC error name and message (lexicon error body: {error, message})."""
        data = self._json(resp)
        name, message = data.get("error"), data.get("message")
        return (
            self.scrub(name) if isinstance(name, str) else "",
            self.scrub(message) if isinstance(message, str) else "",
        )

    def _describe(self, resp: requests.Response) -> str:
        name, message = self._error(resp)
        text = ": ".join(x for x in (name, message) if x) or (resp.reason or _("no details"))
        text = self._redact.excerpt(text, MAX_REASON)  # masked, then cut
        return f"HTTP {resp.status_code} {text}"

    def _refusal(self, what: str, resp: requests.Response, *, unclear: Outcome) -> _Halt:
        """Sort a non-200 answer: credentials refused, rate limited, refused, or unclear."""
        code = resp.status_code
        name, _ignored = self._error(resp)
        if code == 429:
            return self._rate_limited(what, resp)
        if code in (401, 403) or (code == 400 and name in _AUTH_ERRORS):
            return _Halt(
                Outcome.FAILED,
                _("{what}: the session was refused: {reason}").format(
                    what=what, reason=self._describe(resp)
                ),
                needs_reauth=True,
            )
        if 400 <= code < 500 and code != 408:
            return _Halt(
                Outcome.FAILED,
                _("{what} refused by Bluesky: {reason}").format(
                    what=what, reason=self._describe(resp)
                ),
            )
        return _Halt(
            unclear, _("{what} failed: {reason}").format(what=what, reason=self._describe(resp))
        )

    def _rate_limited(self, what: str, resp: requests.Response) -> _Halt:
        wait = retry_after_seconds(resp.headers)
        when = _(" for {seconds} s").format(seconds=f"{wait:.0f}") if wait is not None else ""
        return _Halt(
            Outcome.RETRY,
            _("{what}: rate limited{when} ({reason})").format(
                what=what, when=when, reason=self._describe(resp)
            ),
            retry_after=wait,
        )

    @staticmethod
    def _transport_halt(what: str, exc: Exception, outcome: Outcome) -> _Halt:
        if isinstance(exc, RateLimited):
            return _Halt(
                Outcome.RETRY,
                _("{what}: {exc}").format(what=what, exc=exc),
                retry_after=exc.retry_after,
            )
        if isinstance(exc, NotSent):
            return _Halt(Outcome.RETRY, _("{what}: not sent ({exc})").format(what=what, exc=exc))
        return _Halt(outcome, _("{what}: no answer ({exc})").format(what=what, exc=exc))

    def scrub(self, text: str) -> str:
        """Remove every secret this adapter holds (password, session tokens), in every form
        the Redactor knows (raw, URL-encoded, JSON-escaped, base64), from text copied out of
        a response."""
        return self._redact.text(text)
