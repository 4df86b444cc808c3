"""The run's HTTP client against real loopback servers: what each transport failure proves
(nothing sent / maybe sent), retries of safe requests with a backoff, rate-limit headers
that never turn an answer into an error, one connection pool per host, no cookies."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmflow import config as cfg
from cmflow.http import Http, MaybeSent, NotSent, RateLimited, retry_after_seconds
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult
from cmflow.platforms.mastodon import Adapter
from tests.fakes import FakeMastodon, Fault
from tests.fakes.raw import RawServer, http_answer, refused_url

NOW = 1_800_000_000.0


class Sleeps:
    """An injected sleep: records the pauses instead of taking them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=0.5, sleep=sleeps, rng=lambda: 0.5) as h:
        yield h


# -- rate-limit headers: a bad one is ignored, never an error --------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "soon"},
        {"Retry-After": ""},
        {"Retry-After": "nan"},
        {"Retry-After": "-5"},
        {"Retry-After": "Mon, 99 Foo 2026 25:61:61 GMT"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "garbage"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999-99-99T99:99:99Z"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1e999"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "-1e999"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "NaN"},
        {"X-RateLimit-Remaining": "zero", "X-RateLimit-Reset": "1"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "later"},
        {"RateLimit-Remaining": "0", "RateLimit-Reset": "inf"},
    ],
)
def test_unparsable_rate_limit_headers_are_ignored(headers: dict[str, str]) -> None:
    wait = retry_after_seconds(headers, now=NOW)
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= 86_400)


def test_well_formed_rate_limit_headers_still_count() -> None:
    assert retry_after_seconds({"Retry-After": "7"}, now=NOW) == 7
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=NOW) == 0
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2027-01-15T08:00:30Z"}
    assert retry_after_seconds(reset, now=NOW) == pytest.approx(1_800_000_030.0 - NOW)
    epoch = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 60)}
    assert retry_after_seconds(epoch, now=NOW) == 60


@pytest.mark.parametrize(
    "bad",
    [
        {"Retry-After": "soon"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "garbage"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1e999"},
        {"X-RateLimit-Reset-After": "NaN", "Retry-After": "NaN"},
        {"Retry-After": "-3"},
    ],
)
def test_a_published_status_with_a_bad_rate_limit_header_is_published(
    tmp_path: Path, client: Http, bad: dict[str, str]
) -> None:
    """The POST created the status: a header cmflow cannot read must not make it unknown
    (which would ask a human to check a post that is plainly there)."""
    token = "masto-header-token-1234"
    with FakeMastodon(token=token) as fake:
        fake.inject("POST", r"^/api/v1/statuses$", Fault.add_headers(bad))
        adapter = mastodon_adapter(tmp_path, fake, client, token)
        rendered = Rendered("p", "m", "mastodon", [Part("Bonjour", [])])
        result = adapter.publish(rendered, Progress(adapter.prepare(rendered, "k")))
        assert result.outcome == Outcome.PUBLISHED, result
        assert fake.created == 1
        # The next call to the host is not blocked by a nonsense wait either.
        again = adapter.publish(rendered, Progress(adapter.prepare(rendered, "k2")))
        assert again.outcome == Outcome.PUBLISHED, again
        assert not fake.errors


# -- what a transport failure proves ---------------------------------------------------------


def test_connection_refused_is_not_sent(client: Http) -> None:
    with pytest.raises(NotSent):
        client.request("POST", refused_url() + "/x", json={})


def test_a_server_that_never_answers_maybe_got_it(client: Http) -> None:
    with RawServer(["silent"]) as server, pytest.raises(MaybeSent) as caught:
        client.request("POST", server.url + "/x", json={"a": 1})
    assert "no answer" in str(caught.value)
    assert len(server.requests) == 1 and server.requests[0].startswith(b"POST /x")


@pytest.mark.parametrize("step", ["half", "close", "reset"])
def test_a_connection_lost_after_the_request_was_written_maybe_got_it(
    client: Http, step: str
) -> None:
    with RawServer([step]) as server, pytest.raises(MaybeSent):
        client.request("POST", server.url + "/x", json={"a": 1})
    assert len(server.requests) == 1  # a write is never sent twice by the client


def test_an_error_names_the_host_and_the_kind_never_the_url(client: Http) -> None:
    with RawServer(["close"]) as server, pytest.raises(MaybeSent) as caught:
        client.request("POST", server.url + "/api/webhooks/1/secret-part", json={})
    assert "secret-part" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


# -- retries of safe requests ----------------------------------------------------------------


def test_503_then_200_on_a_get_is_retried_after_a_backoff(client: Http, sleeps: Sleeps) -> None:
    script = [http_answer(503), http_answer(503), http_answer(200, b"ok")]
    with RawServer(script) as server:
        response = client.request("GET", server.url + "/x")
    assert response.status_code == 200 and response.text == "ok"
    assert len(server.requests) == 3
    # Exponential: 0.5 s then 1 s (rng fixed at the middle of its jitter range).
    assert sleeps.calls == [0.5, 1.0]


def test_jitter_spreads_the_pauses(sleeps: Sleeps) -> None:
    draws = iter([0.0, 0.99])
    with (
        Http(read_timeout=0.5, sleep=sleeps, rng=lambda: next(draws)) as h,
        RawServer([http_answer(502), http_answer(504), http_answer(200)]) as server,
    ):
        assert h.request("GET", server.url + "/x").status_code == 200
    assert sleeps.calls[0] == pytest.approx(0.25) and sleeps.calls[1] == pytest.approx(1.49)


def test_a_write_is_never_retried_on_503(client: Http, sleeps: Sleeps) -> None:
    with RawServer([http_answer(503), http_answer(200)]) as server:
        response = client.request("POST", server.url + "/x", json={})
    assert response.status_code == 503
    assert len(server.requests) == 1 and sleeps.calls == []


def test_an_idempotent_write_is_retried_after_a_lost_connection(
    client: Http, sleeps: Sleeps
) -> None:
    with RawServer(["close", http_answer(200, b"{}")]) as server:
        response = client.request("POST", server.url + "/x", json={}, idempotent=True)
    assert response.status_code == 200
    assert len(server.requests) == 2 and sleeps.calls == [0.5]


def test_no_retry_beyond_the_runs_budget(sleeps: Sleeps) -> None:
    with (
        Http(read_timeout=0.5, budget=0.2, sleep=sleeps, rng=lambda: 0.5) as h,
        RawServer([http_answer(503), http_answer(200)]) as server,
    ):
        assert h.request("GET", server.url + "/x").status_code == 503
    assert sleeps.calls == [] and len(server.requests) == 1


def test_retry_after_on_a_503_is_the_pause_when_the_run_can_afford_it(
    client: Http, sleeps: Sleeps
) -> None:
    script = [http_answer(503, headers={"Retry-After": "2"}), http_answer(200)]
    with RawServer(script) as server:
        assert client.request("GET", server.url + "/x").status_code == 200
    assert len(sleeps.calls) == 1 and 1.5 < sleeps.calls[0] <= 2.0


def test_a_wait_longer_than_the_run_allows_is_rate_limited(client: Http) -> None:
    script = [http_answer(429, headers={"Retry-After": "3600"}), http_answer(200)]
    with RawServer(script) as server:
        assert client.request("POST", server.url + "/x").status_code == 429
        with pytest.raises(RateLimited):
            client.request("POST", server.url + "/x")
    assert len(server.requests) == 1


# -- connections ------------------------------------------------------------------------------


def test_one_pool_per_host_reused_across_threads_without_cookies(client: Http) -> None:
    with FakeMastodon(token="t-pool-token") as fake:
        fake.inject(
            "GET", r"^/api/v1/instance$", Fault.add_headers({"Set-Cookie": "sid=abc"}), None
        )
        url = fake.url + "/api/v1/instance"

        def work() -> None:
            for _ in range(5):
                client.request("GET", url).close()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        host = fake.url.split("//")[1]
        assert client.session(host) is client.session(host)
        # Two accounts on one instance never share a server session.
        assert all("cookie" not in r.headers for r in fake.requests)
        assert len(fake.requests) == 20
    with FakeMastodon() as other:
        assert client.session(other.url.split("//")[1]) is not client.session(host)


def test_a_proxy_from_the_environment_is_used_and_no_proxy_bypasses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment is read once per host (not at every request): its proxy settings
    still apply, as they did when requests read them itself."""
    with FakeMastodon() as proxy, FakeMastodon() as direct:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with Http() as h:
            # Through the proxy: it receives the request for a host that does not exist.
            far = h.request("GET", "http://cmflow-proxy-test.invalid/api/v1/instance")
            assert far.status_code == 200
            [seen] = proxy.requests
            assert seen.headers.get("Host") == "cmflow-proxy-test.invalid"
            # A host named in NO_PROXY is reached directly, twice (the second from the
            # host's settings read the first time).
            for _ in range(2):
                assert h.request("GET", direct.url + "/api/v1/instance").status_code == 200
            assert len(direct.requests) == 2 and len(proxy.requests) == 1


# -- helpers ----------------------------------------------------------------------------------


class Progress:
    def __init__(self, handles: dict[str, object]) -> None:
        self.handles = handles
        self.done: list[PartResult] = []
        self.started_at = None

    def part_started(self, index: int) -> None:
        pass

    def part_done(self, index: int, result: PartResult) -> None:
        self.done.append(result)


def mastodon_adapter(root: Path, fake: FakeMastodon, http: Http, token: str) -> Adapter:
    (root / "channels.yaml").write_text(
        "timezone: Europe/Paris\nchannels:\n  m:\n    platform: mastodon\n"
        f"    base_url: {fake.url}\n    token_env: CMFLOW_TEST_TOKEN\n",
        encoding="utf-8",
    )
    config = cfg.load(root)
    return Adapter(Context(config.channels["m"], root, http, {"token_env": token}))


@pytest.mark.parametrize("value", ["Bearer tok’en", "Bearer tok\nen"])
def test_a_header_that_cannot_be_sent_is_not_sent_and_not_retried(
    client: Http, sleeps: Sleeps, value: str
) -> None:
    with RawServer([http_answer(200)]) as server, pytest.raises(NotSent):
        client.request("GET", server.url + "/x", headers={"Authorization": value})
    assert [r for r in server.requests if r] == [] and sleeps.calls == []
