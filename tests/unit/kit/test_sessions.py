"""Session cookies (kit.sessions) and how the bearer middleware takes them (kit.access): a
valid, unexpired session of this token opens GET and HEAD only; pages without access are
redirected to the login form; open routes need nothing; a forged, expired, foreign or
malformed cookie opens nothing."""

from __future__ import annotations

import time

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from detektor.kit.access import OPEN_ROUTE, PAGE_ROUTE
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.sessions import SESSION_COOKIE, SessionKeys, cookie_value
from detektor.settings import Settings

TOKEN = "the-api-token-of-these-tests"


def test_an_issued_session_is_valid_until_it_expires() -> None:
    keys = SessionKeys(TOKEN, ttl_s=60)
    now = time.time()
    cookie = keys.issue(now)
    assert keys.valid(cookie, now)
    assert keys.valid(cookie, now + 59)
    assert not keys.valid(cookie, now + 61)


def test_sessions_differ_and_belong_to_their_token() -> None:
    keys = SessionKeys(TOKEN)
    first, second = keys.issue(), keys.issue()
    assert first != second
    assert not SessionKeys("another-token").valid(first)


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "x",
        "a.b",
        "a.b.c.d",
        "nonce.notanumber.mac",
        "nonce.99999999999999999.mac",
        ".4102444800.mac",
        "a" * 500,
        "nonce.4102444800.\udcff",
        "nonce.4102444800.AAAA",
    ],
)
def test_malformed_or_forged_cookies_are_not_sessions(cookie: str) -> None:
    assert not SessionKeys(TOKEN).valid(cookie)


def test_a_tampered_expiry_is_refused() -> None:
    keys = SessionKeys(TOKEN, ttl_s=1)
    nonce, expires, mac = keys.issue().split(".")
    assert not keys.valid(f"{nonce}.{int(expires) + 10**6}.{mac}")


def test_token_matches_in_full_only() -> None:
    keys = SessionKeys(TOKEN)
    assert keys.token_matches(TOKEN)
    assert not keys.token_matches(TOKEN[:-1])
    assert not keys.token_matches("")
    assert not keys.token_matches("\udcff")


def test_cookie_value_reads_the_named_cookie() -> None:
    headers = [(b"cookie", b"a=1; detektor_session=xyz; b=2")]
    assert cookie_value(headers, SESSION_COOKIE) == "xyz"
    assert cookie_value([(b"cookie", b"a=1")], SESSION_COOKIE) is None
    assert cookie_value("not headers", SESSION_COOKIE) is None


def _client() -> TestClient:
    router = APIRouter()

    @router.get("/data")
    async def data() -> dict[str, str]:
        return {"ok": "data"}

    @router.post("/data")
    async def change() -> dict[str, str]:
        return {"ok": "changed"}

    @router.get("/page", openapi_extra=PAGE_ROUTE)
    async def page() -> dict[str, str]:
        return {"ok": "page"}

    @router.get("/open", openapi_extra=OPEN_ROUTE)
    async def anyone() -> dict[str, str]:
        return {"ok": "open"}

    kit = ServiceKit("test", Settings(api_token=TOKEN))
    return TestClient(create_app(kit, routers=[router]))


def test_a_session_opens_reads_but_not_writes() -> None:
    client = _client()
    client.cookies.set(SESSION_COOKIE, SessionKeys(TOKEN).issue())
    assert client.get("/data").status_code == 200
    assert client.head("/data").status_code == 405  # let through: GET routes refuse HEAD
    # A cookie rides along on a cross-site form post: it must not authorise one.
    assert client.post("/data").status_code == 401


@pytest.mark.parametrize(
    "cookie", ["", "garbage", SessionKeys("another-token").issue(), SessionKeys(TOKEN, -1).issue()]
)
def test_a_bad_session_opens_nothing(cookie: str) -> None:
    client = _client()
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/data").status_code == 401


def test_pages_without_access_go_to_the_login_form_and_keep_where_they_were() -> None:
    client = _client()
    reply = client.get("/page?camera=a b", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=%2Fpage%3Fcamera%3Da%2520b"
    assert client.get("/data").status_code == 401  # the API still answers 401, not a page


def test_open_routes_need_nothing_and_the_bearer_token_still_works() -> None:
    client = _client()
    assert client.get("/open").json() == {"ok": "open"}
    assert client.post("/data", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
