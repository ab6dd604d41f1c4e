"""Login to the web UI with ``DETEKTOR_API_TOKEN`` set: pages redirect to the form, the
right token earns an HttpOnly, SameSite=Strict (and, over HTTPS, Secure) session cookie that
opens the pages and the JSON/picture routes they read but no write, a wrong token is refused
with a message, every form is CSRF-checked, and `next` never leaves the site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detektor.kit.sessions import CSRF_COOKIE, SESSION_COOKIE
from support.tracking_app import tracking_client
from support.ui_scene import person_life, recent

TOKEN = "ui-login-test-token"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with tracking_client(f"sqlite:///{tmp_path / 'events.db'}", api_token=TOKEN) as client:
        yield client


def form_csrf(client: TestClient, path: str = "/login") -> str:
    page = client.get(path).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    assert client.cookies.get(CSRF_COOKIE) == found.group(1)
    return found.group(1)


def log_in(client: TestClient, token: str = TOKEN, **extra: str) -> Any:
    fields = {"csrf": form_csrf(client), "token": token, "next": "/review", **extra}
    return client.post("/login", data=fields, follow_redirects=False)


@pytest.mark.parametrize("path", ["/", "/review", "/frames?camera=a", "/system", "/recordings"])
def test_pages_redirect_to_the_login_form(client: TestClient, path: str) -> None:
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login?next=%2F")


def test_the_api_still_answers_401_and_static_files_are_open(client: TestClient) -> None:
    assert client.get("/v1/objects").status_code == 401
    # Fragments that htmx fetches: a 401 it leaves alone, not the login page swapped in.
    assert client.get("/ui/cameras/grid", follow_redirects=False).status_code == 401
    assert client.get("/ui/review/stream", follow_redirects=False).status_code == 401
    assert client.get("/ui/static/detektor.css").status_code == 200
    assert client.get("/login").status_code == 200


def test_the_right_token_opens_pages_and_the_routes_they_read(client: TestClient) -> None:
    reply = log_in(client)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/review"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert client.get("/review").status_code == 200
    assert client.get("/v1/objects").status_code == 200
    assert client.get("/v1/frames").status_code == 200
    # The pictures and clips the pages load: past the access check (404: none kept here).
    assert client.get("/v1/cameras/cam/latest.jpg?boxes=1").status_code == 404
    assert client.get("/v1/objects/cam:1:1/clip.mp4").status_code == 404
    assert 'action="/logout"' in client.get("/").text


def test_a_session_cookie_cannot_write(client: TestClient) -> None:
    log_in(client)
    _object_id, events = person_life("cam", recent())
    assert client.post("/v1/events", json={"events": events}).status_code == 401


def test_a_wrong_token_is_refused_with_a_message(client: TestClient) -> None:
    for wrong in ("nope", "", TOKEN + "x", TOKEN.upper()):
        reply = log_in(client, token=wrong)
        assert reply.status_code == 401
        assert "Wrong token" in reply.text
        assert SESSION_COOKIE not in client.cookies
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_login_without_the_csrf_token_or_from_another_site_is_refused(client: TestClient) -> None:
    form_csrf(client)
    no_field = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert no_field.status_code == 403
    wrong = client.post("/login", data={"token": TOKEN, "csrf": "x" * 32}, follow_redirects=False)
    assert wrong.status_code == 403
    token = form_csrf(client)  # a good form, but posted by another site:
    reply = client.post(
        "/login",
        data={"csrf": token, "token": TOKEN},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert reply.status_code == 403
    assert "cross-site" in reply.json()["error"]["message"]
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    "body",
    [b"%ff%fe=1", b"csrf=" + b"a" * 5000, b"&&&===", b"token=\x00\xff"],
)
def test_malformed_login_forms_are_4xx(client: TestClient, body: bytes) -> None:
    form_csrf(client)
    reply = client.post(
        "/login",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert 400 <= reply.status_code < 500
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "review", ""]
)
def test_next_never_leaves_the_site(client: TestClient, target: str) -> None:
    reply = log_in(client, next=target)
    assert reply.headers["location"] == "/"


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    log_in(client)
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/review").status_code == 200
    token = form_csrf(client, "/review")
    reply = client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_over_https_the_cookies_are_secure(tmp_path: Path) -> None:
    with tracking_client(f"sqlite:///{tmp_path / 'e.db'}", api_token=TOKEN) as client:
        client.base_url = client.base_url.copy_with(scheme="https")
        reply = log_in(client)
        assert "Secure" in reply.headers["set-cookie"]
        assert client.get("/review").status_code == 200


def test_without_a_token_the_login_form_sends_you_on(tmp_path: Path) -> None:
    with tracking_client(f"sqlite:///{tmp_path / 'e.db'}") as client:
        reply = client.get("/login?next=/system", follow_redirects=False)
        assert reply.status_code == 303
        assert reply.headers["location"] == "/system"
