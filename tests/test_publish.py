"""`cmflow plan` / `cmflow publish` end to end: the real entry point in a subprocess, a content
repository on disk, loopback platforms (and a real Bluesky PDS when installed).

The oracles, in every test: each platform created each (post, channel) at most once (posts
carry a unique marker in their text); every due pair ends with a record entry in a known
state; record files are valid JSON; no secret shows up in anything cmflow printed or wrote.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.fakes import FakeMastodon, Fault, Recorded, Response
from tests.peers.fixtures import BlueskyPeer, bluesky_pds  # noqa: F401
from tests.publishing import (
    BLUESKY_ENV,
    DISCORD_ENV,
    DISCORD_ID,
    DISCORD_TOKEN,
    MASTODON_ENV,
    MASTODON_TOKEN,
    NOW,
    TELEGRAM_CHAT,
    TELEGRAM_TOKEN,
    Fakes,
    ago,
    assert_states,
    created,
    from_now,
    git,
    init_remote,
    later,
    mastodon_channel,
    post,
    pushed_site,
    remote_history,
    site,
    telegram_channel,
)

STATUSES = r"^/api/v1/statuses$"
THREAD_BREAK = "\n\n<!-- thread -->\n\n"


def webhook_posts(fakes: Fakes) -> int:
    return len(fakes.discord.requests_to("POST", r"/api/webhooks/"))


# -- plan, publish, publish again, dry run, --channel ---------------------------------------------


def test_plan_then_publish_once_to_every_channel(tmp_path: Path, fakes: Fakes) -> None:
    channels = fakes.channels("site", "mastodon", "discord", "telegram")
    channels["slack"] = {"platform": "slack", "webhook_env": "CMFLOW_SLACK_WEBHOOK"}
    s = site(
        tmp_path / "repo",
        channels,
        {
            "2026/ready.md": post(
                ["site", "mastodon", "discord", "telegram"],
                "Atelier **community management** ready-7c1 : inscriptions ouvertes.",
                title="Atelier",
            ),
            "2026/brouillon.md": post(["mastodon"], "Brouillon draft-7c1", status="draft"),
            "2026/demain.md": post(["mastodon"], "Demain later-7c1", date=later(hours=20)),
            "2026/slack.md": post(["slack"], "Slack nocred-7c1"),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    due = [("ready", c) for c in ("site", "mastodon", "discord", "telegram")]

    # plan: what would happen, per pair, in text and JSON.
    text = s.run("plan", "--all", at=NOW)
    assert text.code == 0, text
    lines = text.stdout.splitlines()

    def line(path: str, channel: str) -> str:
        found = [ln for ln in lines if f" {channel} " in ln and path in ln]
        assert len(found) == 1, (path, channel, text.stdout)
        return found[0]

    for _, channel in due:
        assert "publish" in line("ready.md", channel)
    draft = line("brouillon.md", "mastodon")
    assert "skip" in draft and "draft" in draft
    assert "wait" in line("demain.md", "mastodon") and "not due" in line("demain.md", "mastodon")
    assert "skip" in line("slack.md", "slack")
    assert "CMFLOW_SLACK_WEBHOOK" in line("slack.md", "slack")  # names the variable to set
    short = s.run("plan", at=NOW)
    assert "brouillon.md" not in short.stdout and "--all" in short.stdout  # drafts hidden
    plan = s.plan()
    actions = {(a["post"], a["channel"]): a for a in plan["actions"]}
    assert {k: a["action"] for k, a in actions.items()} == {
        **dict.fromkeys(due, "publish"),
        ("brouillon", "mastodon"): "skip",
        ("demain", "mastodon"): "wait",
        ("slack", "slack"): "skip",
    }
    assert "CMFLOW_SLACK_WEBHOOK" in actions[("slack", "slack")]["reason"]
    assert plan["summary"] == {"publish": 4, "skip": 2, "wait": 1}

    # --dry-run: the same list, nothing sent, nothing recorded.
    dry = s.publish("--dry-run")
    assert dry.code == 0, dry
    assert all(c in dry.stdout for _, c in due)
    assert all(not f.requests for f in fakes.all())
    assert not (s.root / "data").exists() and not (s.root / "public").exists()

    # --channel: only that channel goes.
    only = s.publish("--channel", "mastodon")
    assert only.code == 0, only
    assert created(fakes.mastodon, "ready-7c1") == 1
    assert created(fakes.mastodon, "draft-7c1") == created(fakes.mastodon, "later-7c1") == 0
    assert fakes.discord.created == fakes.telegram.created == 0
    assert set(s.records()) == {("ready", "mastodon")}

    # publish: every other due pair, once.
    first = s.publish()
    assert first.code == 0, first
    for fake in (fakes.mastodon, fakes.discord, fakes.telegram):
        assert created(fake, "ready-7c1") == 1, fake
    assert set(s.records()) == set(due)
    assert_states(s, due)
    records = s.records()
    for key in due:
        assert records[key]["state"] == "published" and records[key]["parts"][0]["id"], key
    assert records[("ready", "mastodon")]["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    assert records[("ready", "telegram")]["parts"][0]["url"] == "https://t.me/fakechannel/1"
    assert (s.root / "public" / "feed.xml").read_text("utf-8").count("<entry") == 1
    assert "published" in first.stdout

    # again: nothing new, and it says so.
    before = [f.created for f in fakes.all()]
    sent_before = [len(f.requests) for f in fakes.all()]
    again = s.publish()
    assert again.code == 0, again
    assert [f.created for f in fakes.all()] == before
    assert [len(f.requests) for f in fakes.all()] == sent_before  # not even a request
    assert "nothing new" in again.stdout
    assert set(s.actions(at=later(minutes=5)).items()) >= {(k, "done") for k in due}
    s.assert_no_secret()


def test_publish_json_output_lists_every_pair(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "telegram"),
        {"a.md": post(["mastodon", "telegram"], "Json json-2f8")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    result = s.publish("--format", "json")
    assert result.code == 0, result
    data = result.json()
    assert data["ok"] is True
    by_channel = {r["channel"]: r for r in data["results"]}
    assert by_channel["mastodon"]["state"] == "published"
    assert by_channel["mastodon"]["remote_id"] == fakes.mastodon.posts[0]["id"]
    assert by_channel["telegram"]["url"] == f"https://t.me/{TELEGRAM_CHAT[1:]}/1"
    s.assert_no_secret()


# -- bad input never blocks good input --------------------------------------------------------------


def test_invalid_post_and_unpublishable_platform_are_skipped_others_go(
    tmp_path: Path, fakes: Fakes
) -> None:
    channels = fakes.channels("mastodon", "telegram")
    # A channel declared before its account is connected (no `page_id` yet): validated, and
    # skipped naming the key. (Every platform has an adapter now, so none is skipped as
    # "cannot publish".)
    channels["facebook"] = {"platform": "facebook", "token_env": "CMFLOW_FACEBOOK_TOKEN"}
    s = site(
        tmp_path / "repo",
        channels,
        {
            "good.md": post(["mastodon", "telegram"], "Valide good-31a"),
            # 600 characters: over Mastodon's 500.
            "too-long.md": post(["mastodon", "telegram"], "long-31a " + "x" * 600),
            "broken.md": "---\ndate: [unclosed\nchannels: [mastodon]\n---\nbroken-31a\n",
            "li.md": post(["facebook", "mastodon"], "Pour Facebook li-31a"),
        },
        env={**fakes.env(), "CMFLOW_FACEBOOK_TOKEN": "fb-S3cr3t-token-000111"},
        secrets=[*fakes.secrets(), "fb-S3cr3t-token-000111"],
    )
    actions = {(a["post"], a["channel"]): a for a in s.plan()["actions"]}
    # Due and invalid: reported as such, and the run fails until it is fixed.
    assert actions[("too-long", "mastodon")]["action"] == "invalid"
    assert "invalid" in actions[("too-long", "mastodon")]["reason"]
    assert "cmflow validate content/too-long.md" in actions[("too-long", "mastodon")]["reason"]
    li = actions[("li", "facebook")]
    assert li["action"] == "skip" and "page_id" in li["reason"], li

    result = s.publish()
    assert result.code == 1, result  # the invalid and unreadable posts fail the run...
    assert "content/broken.md" in result.stdout  # ...and are named
    assert created(fakes.mastodon, "good-31a") == created(fakes.telegram, "good-31a") == 1
    assert created(fakes.mastodon, "li-31a") == 1
    for fake in (fakes.mastodon, fakes.telegram):
        assert created(fake, "broken-31a") == 0
    # Too long for Mastodon only: that pair is held, Telegram (4,096) gets it.
    assert created(fakes.mastodon, "long-31a") == 0
    assert created(fakes.telegram, "long-31a") == 1
    assert s.state("good", "mastodon") == s.state("good", "telegram") == "published"
    assert s.record("too-long", "mastodon") is None and s.record("li", "facebook") is None
    assert "page_id" in result.stdout  # the skip is explained, not silent
    s.assert_no_secret()


# -- T8: renamed or moved after publishing ----------------------------------------------------------


@pytest.mark.parametrize("keep_id", [True, False], ids=["same-id", "same-content"])
def test_renamed_post_is_not_published_again(tmp_path: Path, fakes: Fakes, keep_id: bool) -> None:
    front: dict[str, Any] = {"id": "atelier-2026"} if keep_id else {}
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "telegram"),
        {"atelier.md": post(["mastodon", "telegram"], "Renommé rename-5d2", **front)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    git(s.root, "init", "--quiet", "--initial-branch=main")
    git(s.root, "add", "-A")
    git(s.root, "commit", "--quiet", "-m", "post")
    assert s.publish().code == 0
    assert fakes.mastodon.created == fakes.telegram.created == 1

    (s.root / "content" / "2026" / "11").mkdir(parents=True)
    new = "content/2026/11/2026-11-21-atelier-cm.md"
    git(s.root, "mv", "content/atelier.md", new)
    again = s.publish(at=later(minutes=10))
    assert again.code == 0, again
    assert fakes.mastodon.created == fakes.telegram.created == 1
    assert "nothing new" in again.stdout
    assert set(s.actions(at=later(minutes=10)).values()) == {"done"}
    s.assert_no_secret()


def test_a_post_renamed_and_edited_at_once_is_held_not_published_twice(
    tmp_path: Path, fakes: Fakes
) -> None:
    # Renamed (a typo in the file name) and edited (one in the text) in one commit: its
    # content no longer tells it is the published post, and it went out a second time on
    # every channel. Now the run holds it and says how to settle it; validate does not call
    # it still to send.
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "telegram"),
        {"fete-noel.md": post(["mastodon", "telegram"], "Renommé puis corrigé renedit-3f1")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    assert fakes.mastodon.created == fakes.telegram.created == 1
    text = (s.root / "content/fete-noel.md").read_text("utf-8")
    (s.root / "content/fete-noel.md").unlink()
    s.write_post("fete-de-noel.md", text.replace("corrigé", "corrigé, enfin"))
    held = s.publish(at=later(minutes=10))
    assert held.code == 1, held
    assert fakes.mastodon.created == fakes.telegram.created == 1  # not sent twice
    assert "looks like the post published" in held.stdout and "`id: fete-noel`" in held.stdout
    assert set(s.actions(at=later(minutes=10)).values()) == {"blocked"}
    found = s.run("validate", "--format", "json", at=later(minutes=10))
    late = [f for f in found.json()["findings"] if f["rule"] == "schedule.past"]
    assert late and all("renamed and edited" in f["message"] for f in late), late  # the same
    for _ in range(2):  # with the cache: written, then read
        cached = s.run("validate", "--format", "json", at=later(minutes=10))
        assert cached.json()["findings"] == found.json()["findings"]
    # The same post: its old id given back, it is the published post, edited (these
    # channels take no edits: done, and said so).
    s.write_post(
        "fete-de-noel.md", "---\nid: fete-noel\n" + text.replace("corrigé", "corrigé, enfin")[4:]
    )
    plan = s.run("plan", "--format", "json", at=later(minutes=11)).json()["actions"]
    assert {a["action"] for a in plan} == {"done"}
    assert all("edited since" in a["reason"] for a in plan), plan
    # Or a new post: an id of its own.
    s.write_post(
        "fete-de-noel.md", "---\nid: fete-bis\n" + text.replace("corrigé", "corrigé, enfin")[4:]
    )
    assert set(s.actions(at=later(minutes=12)).values()) == {"publish"}
    s.assert_no_secret()


# -- T9: edited after publishing -------------------------------------------------------------------


def test_post_edited_after_publish_is_not_resent_and_validate_warns(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Version un edit-9e0")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    s.write_post("a.md", post(["mastodon", "discord"], "Version deux, corrigée edit-9e0"))
    again = s.publish(at=later(minutes=5))
    assert again.code == 0, again
    assert fakes.mastodon.created == fakes.discord.created == 1
    assert "nothing new" in again.stdout
    plan = s.plan(at=later(minutes=5))["actions"]
    assert {a["action"] for a in plan} == {"done"}
    assert all("edited" in a["reason"] for a in plan)

    check = s.run("validate", "--format", "json", "--no-cache", at=later(minutes=5))
    assert check.code == 0, check  # a warning, not an error
    rules = [(f["rule"], f["level"]) for f in check.json()["findings"]]
    assert ("schedule.edited-after-publish", "warning") in rules
    s.assert_no_secret()


# -- T10: late runs and the catch-up window ---------------------------------------------------------


def test_late_run_catches_up_within_the_window_and_records_missed_beyond(
    tmp_path: Path, fakes: Fakes
) -> None:
    channels = {
        **fakes.channels("mastodon"),
        "site": {
            "platform": "feed",
            "output_dir": "public",
            "site_url": "https://example.fr/actus",
            "rules": {"catch_up": "365d"},
        },
    }
    s = site(
        tmp_path / "repo",
        channels,
        {
            "six-hours.md": post(["mastodon", "site"], "Six heures late-6h", date=ago(hours=6)),
            "three-days.md": post(["mastodon", "site"], "Trois jours late-3d", date=ago(days=3)),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    actions = s.actions()
    assert actions[("three-days", "mastodon")] == "missed"
    assert actions[("six-hours", "mastodon")] == "publish"
    assert actions[("three-days", "site")] == "publish"  # its own catch_up: 365d

    result = s.publish()
    assert result.code == 0, result
    assert created(fakes.mastodon, "late-6h") == 1
    assert created(fakes.mastodon, "late-3d") == 0
    assert s.state("six-hours", "mastodon") == "published"
    missed = s.record("three-days", "mastodon")
    assert missed is not None and missed["state"] == "missed"
    assert "catch-up" in missed["reason"]
    assert s.state("three-days", "site") == s.state("six-hours", "site") == "published"
    assert "missed" in result.stdout
    assert_states(s, [(p, c) for p in ("six-hours", "three-days") for c in ("mastodon", "site")])

    again = s.publish(at=later(minutes=30))
    assert again.code == 0, again
    assert created(fakes.mastodon, "late-3d") == 0
    assert s.state("three-days", "mastodon") == "missed"
    s.assert_no_secret()


# -- T11: secrets never leak, even when the platforms echo them ------------------------------------


def test_secrets_echoed_by_failing_platforms_never_leak(tmp_path: Path, fakes: Fakes) -> None:
    for fake in fakes.all():
        fake.echo_secrets = True  # the fakes' own errors dump the request
    url, token = fakes.webhook_url, TELEGRAM_TOKEN
    # Error bodies that quote the credential, raw and URL-encoded, where the adapters read.
    fakes.mastodon.inject(
        "POST",
        STATUSES,
        Fault.after_commit_status(500, {"error": f"proxy error for Bearer {MASTODON_TOKEN}"}),
        times=None,
    )
    fakes.discord.inject(
        "POST",
        r"/api/webhooks/",
        Fault.status(400, {"message": f"Invalid Form Body at {url} ({quote(url, safe='')})"}),
        times=None,
    )
    fakes.telegram.inject(
        "*",
        r"^/bot",
        Fault.status(
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": f"Bad Request: /bot{token}/sendMessage /bot{quote(token)}/"
                f" secret={token.partition(':')[2]}",
            },
        ),
        times=None,
    )
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon", "discord", "telegram"),
        {
            "a.md": post(["mastodon", "discord", "telegram"], "Fuite leak-0a1"),
            "b.md": post(["mastodon", "discord", "telegram"], "Fuite leak-0b2", date=ago(hours=2)),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    as_json = s.publish("--commit", "--format", "json")
    assert as_json.code == 1, as_json
    assert {r["state"] for r in as_json.json()["results"]} == {"failed", "unknown"}
    # Reconciling: Mastodon answers 500 each time, so after three runs a human is asked.
    for minutes in (5, 10, 15):
        text = s.publish("--commit", at=later(minutes=minutes))
        assert text.code == 1, text
    for p in ("a", "b"):
        assert s.state(p, "mastodon") == "needs_human"
        assert s.state(p, "discord") == s.state(p, "telegram") == "failed"
    # The platforms did send the secrets back: a leak would be caught.
    echoed = b"".join(r.response_body or b"" for f in fakes.all() for r in f.requests)
    assert MASTODON_TOKEN.encode() in echoed and token.encode() in echoed
    assert DISCORD_TOKEN.encode() in echoed
    s.run("plan", "--all", at=later(minutes=20))
    s.run("resolve", "a", "mastodon", "--absent")
    s.assert_no_secret(remote_history(remote))


# -- T14: an expired credential on one channel ------------------------------------------------------


def test_refused_mastodon_token_defers_that_channel_and_others_publish(
    tmp_path: Path, fakes: Fakes
) -> None:
    expired = "mstdn-EXPIRED-token-0000ffff"
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "telegram"),
        {
            "a.md": post(["mastodon", "telegram"], "Jeton auth-a14", date=ago(hours=2)),
            "b.md": post(["mastodon", "telegram"], "Jeton auth-b14"),
        },
        env={**fakes.env(), MASTODON_ENV: expired},
        secrets=[*fakes.secrets(), expired],
    )
    result = s.publish()
    assert fakes.telegram.created == 2
    assert fakes.mastodon.created == 0
    # One refused request, then the channel is left alone for the rest of the run.
    assert len(fakes.mastodon.requests_to("POST", STATUSES)) == 1
    for p in ("a", "b"):
        entry = s.record(p, "mastodon")
        assert entry is not None and entry["state"] == "deferred", entry
        assert s.state(p, "telegram") == "published"
    first = s.record("a", "mastodon")
    assert first is not None and "renew" in first["reason"]
    assert "renew" in result.stdout

    s.env[MASTODON_ENV] = fakes.env()[MASTODON_ENV]  # the credential is renewed
    again = s.publish(at=later(minutes=10))
    assert again.code == 0, again
    assert created(fakes.mastodon, "auth-a14") == created(fakes.mastodon, "auth-b14") == 1
    assert fakes.telegram.created == 2
    assert s.state("a", "mastodon") == s.state("b", "mastodon") == "published"
    s.assert_no_secret()


def test_deleted_discord_webhook_is_not_used_again_in_the_run(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("discord", "telegram"),
        {
            "a.md": post(["discord", "telegram"], "Webhook hook-a14", date=ago(hours=3)),
            "b.md": post(["discord", "telegram"], "Webhook hook-b14", date=ago(hours=2)),
            "c.md": post(["discord"], "Webhook hook-c14"),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.discord.delete_webhook(DISCORD_ID)
    s.publish()
    assert webhook_posts(fakes) == 1  # Discord says: stop using a 404 webhook
    assert fakes.discord.created == 0 and fakes.telegram.created == 2
    for p in ("a", "b", "c"):
        entry = s.record(p, "discord")
        assert entry is not None and entry["state"] == "deferred", entry
    first = s.record("a", "discord")
    assert first is not None and DISCORD_ENV in first["reason"]

    new_id, new_token = "9876543210987654321", "dscrdRenewedS3cr3tToken_zyxwvutsrqponm-0987"
    fakes.discord.add_webhook(new_id, new_token)
    s.env[DISCORD_ENV] = fakes.discord.webhook_url_for(new_id)
    s.secrets += [new_token, s.env[DISCORD_ENV]]
    again = s.publish(at=later(minutes=10))
    assert again.code == 0, again
    for marker in ("hook-a14", "hook-b14", "hook-c14"):
        assert created(fakes.discord, marker) == 1
    s.assert_no_secret()


# -- T15: a thread resumes where it stopped ---------------------------------------------------------


class PickyMastodon(FakeMastodon):
    """Refuses (422) any status whose text holds `refuse`, like a validation error."""

    refuse: str | None = None

    def process(self, req: Recorded) -> Response:
        if (
            self.refuse
            and req.method == "POST"
            and req.path == "/api/v1/statuses"
            and isinstance(req.json, dict)
            and self.refuse in str(req.json.get("status"))
        ):
            return self._error(req, 422, "Validation failed: Text is not allowed here")
        return super().process(req)


@pytest.fixture
def picky(fakes: Fakes) -> Iterator[PickyMastodon]:
    with PickyMastodon(token=MASTODON_TOKEN) as server:
        yield server


def thread_body(tag: str) -> str:
    return THREAD_BREAK.join(
        [f"Premier message {tag}-1", f"Deuxième message {tag}-2", f"Troisième message {tag}-3"]
    )


def test_refused_third_part_keeps_parts_one_and_two_and_waits_for_a_fix(
    tmp_path: Path, fakes: Fakes, picky: PickyMastodon
) -> None:
    picky.refuse = "thr15-3"
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(picky)},
        {"fil.md": post(["mastodon"], thread_body("thr15"))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    first = s.publish()
    assert first.code == 1, first  # a definite refusal is a failed run
    entry = s.record("fil", "mastodon")
    assert entry is not None and entry["state"] == "failed", entry
    ids = [p["id"] for p in entry["parts"]]
    assert ids == [picky.posts[0]["id"], picky.posts[1]["id"]]
    assert "Validation failed" in entry["reason"]

    # The platform accepts it now, but the post is unchanged: a failed pair waits for a fix.
    picky.refuse = None
    sent = len(picky.requests_to("POST", STATUSES))
    again = s.publish(at=later(minutes=5))
    assert len(picky.requests_to("POST", STATUSES)) == sent
    command = "`cmflow resolve fil mastodon --absent --force`"
    assert (
        "it goes again once what this channel would receive changes, or run " + command
        in again.stdout
    )
    assert picky.created == 2
    # validate says so too (it said the next run would send it), also once the post
    # changes in what Mastodon does not receive: the run would not send it again either.
    found = s.run("validate", "--format", "json", at=later(minutes=6))
    (late,) = [f for f in found.json()["findings"] if f["rule"] == "schedule.past"]
    assert late["message"].startswith("failed: part 3 of 3") and command in late["message"]
    text = (s.root / "content/fil.md").read_text("utf-8")
    s.write_post("fil.md", text.replace("---\n", "---\nsummary: Un résumé pour le site\n", 1))
    found = s.run("validate", "--format", "json", at=later(minutes=6))
    (late,) = [f for f in found.json()["findings"] if f["rule"] == "schedule.past"]
    assert late["message"].startswith("failed: part 3 of 3")
    assert set(s.actions(at=later(minutes=6)).values()) == {"skip"}
    # What was wrong was elsewhere (the account, the instance): sent as it is when asked,
    # from the part that failed (the first two are out already).
    resolved = s.run("resolve", "fil", "mastodon", "--absent", "--force")
    assert resolved.code == 0, resolved
    done = s.publish(at=later(minutes=7))
    assert done.code == 0, done
    assert picky.created == 3
    entry = s.record("fil", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert [p["id"] for p in entry["parts"]][:2] == ids


def test_fixed_thread_resumes_at_the_failed_part_replying_to_the_last_recorded_one(
    tmp_path: Path, fakes: Fakes, picky: PickyMastodon
) -> None:
    picky.refuse = "thr15b-3"
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(picky)},
        {"fil.md": post(["mastodon"], thread_body("thr15b"))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    s.publish()
    part2 = picky.posts[1]["id"]
    # The fix: part 3 rewritten (parts 1 and 2, already out, unchanged).
    picky.refuse = None
    s.write_post("fil.md", post(["mastodon"], thread_body("thr15b").replace("-3", "-3 corrigé")))
    again = s.publish(at=later(minutes=5))
    assert again.code == 0, again
    bodies = [r.json["status"] for r in picky.requests_to("POST", STATUSES)]
    assert len(bodies) == 4, bodies  # parts 1, 2, 3 (refused), then part 3 only
    assert created(picky, "thr15b-1") == created(picky, "thr15b-2") == 1
    assert created(picky, "thr15b-3") == 1
    assert picky.posts[-1]["in_reply_to_id"] == part2
    entry = s.record("fil", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert [p["id"] for p in entry["parts"]] == [p["id"] for p in picky.posts]


def test_rate_limited_thread_resumes_at_the_deferred_part(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        {"telegram": telegram_channel(fakes.telegram)},
        {"fil.md": post(["telegram"], thread_body("tg15"))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.telegram.rate_limit(2, 60)  # the third call of the minute gets a 429
    first = s.publish()
    assert first.code == 0, first
    entry = s.record("fil", "telegram")
    assert entry is not None and entry["state"] == "deferred" and entry["not_before"]
    assert [p["id"] for p in entry["parts"]] == ["1", "2"]

    fakes.telegram.rate_limit(None)
    # not_before is on the real clock (the platform said "in N seconds" from now).
    again = s.publish(at=from_now(minutes=3))
    assert again.code == 0, again
    for n in (1, 2, 3):
        assert created(fakes.telegram, f"tg15-{n}") == 1, fakes.telegram.messages
    last = fakes.telegram.messages[-1]
    assert last["reply_to_message"]["message_id"] == 2


# -- Bluesky against a real PDS ---------------------------------------------------------------------


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x00\x80\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def bluesky_posts(peer: BlueskyPeer, marker: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"repo": peer.did, "collection": "app.bsky.feed.post", "limit": "100"}
        if cursor:
            params["cursor"] = cursor
        resp = requests.get(
            f"{peer.url}/xrpc/com.atproto.repo.listRecords", params=params, timeout=30
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()
        found += [r for r in data["records"] if marker in r["value"]["text"]]
        cursor = data.get("cursor")
        if not cursor or not data["records"]:
            return found


def test_bluesky_post_with_image_and_link_on_a_real_pds(
    tmp_path: Path,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    marker = f"bsky-{uuid.uuid4().hex[:8]}"
    channels = {
        "bluesky": {
            "platform": "bluesky",
            "base_url": bluesky_pds.url,
            "handle": bluesky_pds.handle,
            "password_env": BLUESKY_ENV,
        }
    }
    s = site(
        tmp_path / "repo",
        channels,
        {
            "a.md": post(
                ["bluesky"],
                f"Notre guide {marker} : https://guide.example.org/accessibilite #a11y",
                media=[{"path": "media/photo.png", "alt": "Trois carrés bleus"}],
            )
        },
        env={BLUESKY_ENV: bluesky_pds.app_password},
        secrets=[bluesky_pds.app_password, bluesky_pds.password],
        media={"media/photo.png": tiny_png()},
    )
    first = s.publish()
    assert first.code == 0, first
    entry = s.record("a", "bluesky")
    assert entry is not None and entry["state"] == "published", entry
    uri = entry["parts"][0]["id"]
    assert uri.startswith(f"at://{bluesky_pds.did}/app.bsky.feed.post/")
    records = bluesky_posts(bluesky_pds, marker)
    assert [r["uri"] for r in records] == [uri]
    value = records[0]["value"]
    assert isinstance(value, dict)
    assert value["embed"]["images"][0]["alt"] == "Trois carrés bleus"
    links = [f["uri"] for facet in value["facets"] for f in facet["features"] if "uri" in f]
    assert links == ["https://guide.example.org/accessibilite"]

    again = s.publish(at=later(minutes=5))
    assert again.code == 0, again
    assert "nothing new" in again.stdout
    assert len(bluesky_posts(bluesky_pds, marker)) == 1
    s.assert_no_secret(json.dumps(entry))
