"""Sign-in throttling on the real database: backoff, locks per account and per address, the audit
trail, and the same path for unknown user names as for known ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import argon2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fupin_gis.auth import accounts
from fupin_gis.auth.accounts import add_user, by_session, disable_user, login
from fupin_gis.errors import TooManyAttempts
from fupin_gis.main import create_app
from fupin_gis.settings import AuthSettings, Settings

PASSWORD = "correct horse"
NO_BACKOFF = AuthSettings(login_backoff_s=0)  # only the lock: 30 tries in a row without waiting


def _audit(engine: Engine, username: str) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, detail FROM audit_log WHERE username = :u ORDER BY id"), {"u": username}
        ).all()
    return [(r.action, r.detail) for r in rows]


def _throttle(engine: Engine, key: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT failures, blocked_until - last_failure_at AS span FROM login_throttle WHERE key = :k"),
            {"k": key},
        ).first()


@pytest.mark.parametrize("name", ["lock_known", "lock_ghost"])
def test_thirty_wrong_passwords_lock_the_account_until_the_lock_ends(engine: Engine, name: str) -> None:
    if name == "lock_known":
        add_user(engine, name, PASSWORD, "viewer", "*")
    for _ in range(29):
        assert login(engine, name, "wrong password", NO_BACKOFF, "10.0.0.1") is None
    assert _throttle(engine, f"user:{name}").failures == 29
    assert login(engine, name, "wrong password", NO_BACKOFF, "10.0.0.1") is None  # the 30th
    lock = _throttle(engine, f"user:{name}")
    assert lock.failures == 30 and lock.span.total_seconds() == 15 * 60
    with pytest.raises(TooManyAttempts) as refused:  # the right password, from another address too
        login(engine, name, PASSWORD, NO_BACKOFF, "10.0.0.2")
    assert refused.value.details["retry_after"] > 14 * 60
    assert "已临时锁定" in refused.value.zh and "locked" in refused.value.en
    trail = [action for action, _ in _audit(engine, name)]
    assert trail == ["login_failed"] * 29 + ["login_failed", "login_locked", "login_throttled"]
    locked = dict(_audit(engine, name))["login_locked"]
    assert locked == {"key": f"user:{name}", "failures": 30, "minutes": 15.0}

    with engine.begin() as conn:  # the lock ends: move the stored times 16 minutes back
        conn.execute(
            text(
                "UPDATE login_throttle SET blocked_until = blocked_until - interval '16 minutes', "
                "last_failure_at = last_failure_at - interval '16 minutes' WHERE key = :k"
            ),
            {"k": f"user:{name}"},
        )
    if name == "lock_ghost":  # an unknown name is never let in, but it is no longer refused unheard
        assert login(engine, name, PASSWORD, NO_BACKOFF, "10.0.0.1") is None
        assert _throttle(engine, f"user:{name}").failures == 1  # the old run was forgotten
        return
    made = login(engine, name, PASSWORD, NO_BACKOFF, "10.0.0.1")
    assert made is not None and by_session(engine, made[0]).username == name  # type: ignore[union-attr]
    assert _throttle(engine, f"user:{name}") is None  # the run of failures ended with the right password


def test_unknown_and_disabled_names_are_checked_against_the_dummy_hash(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(engine, "dummy_known", PASSWORD, "viewer", "*")
    add_user(engine, "dummy_disabled", PASSWORD, "viewer", "*")
    disable_user(engine, "dummy_disabled")
    checked: list[str] = []
    real = accounts._verify

    def spy(stored: str, password: str) -> bool:  # records the hash, then does the real work
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(accounts, "_verify", spy)
    policy = AuthSettings()
    for name in ("dummy_ghost", "dummy_disabled", "dummy_known"):
        assert login(engine, name, "wrong password", policy, "10.0.1.1") is None
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE username = 'dummy_known'")).scalar_one()
    dummy = accounts._dummy_hash()
    assert checked == [dummy, dummy, stored]
    # the dummy costs what a real hash costs: same algorithm and parameters as the stored one
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(stored)
    assert not accounts._hasher.check_needs_rehash(dummy)
    assert _audit(engine, "dummy_ghost") == [("login_failed", {"address": "10.0.1.1", "known": False})]
    assert _audit(engine, "dummy_known") == [("login_failed", {"address": "10.0.1.1", "known": True})]
    assert _throttle(engine, "user:dummy_ghost").failures == 1  # counted like a known name


def test_one_address_guessing_many_accounts_is_locked(engine: Engine) -> None:
    add_user(engine, "spray_target", PASSWORD, "viewer", "*")
    policy = NO_BACKOFF.model_copy(update={"login_address_lock_failures": 10})
    for i in range(10):  # one wrong password each for ten names: no account reaches its limit
        assert login(engine, f"spray_{i}", "wrong password", policy, "10.0.2.1") is None
    assert _throttle(engine, "addr:10.0.2.1").failures == 10
    with pytest.raises(TooManyAttempts):
        login(engine, "spray_target", PASSWORD, policy, "10.0.2.1")
    assert login(engine, "spray_target", PASSWORD, policy, "10.0.2.2") is not None  # another address
    assert _throttle(engine, "addr:10.0.2.1").failures == 10  # a success elsewhere does not clear it


@pytest.fixture(scope="module")
def signin(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    add_user(engine, "backoff_user", PASSWORD, "viewer", "*")
    on = settings.model_copy(update={"auth": settings.auth.model_copy(update={"required": True})})
    with TestClient(create_app(on), base_url="https://testserver") as client:
        yield client


def _post(client: TestClient, username: str, password: str) -> Any:
    form = client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token, "next": "/"},
        follow_redirects=False,
    )


def test_login_form_backs_off_with_429_and_retry_after(signin: TestClient, engine: Engine) -> None:
    for _ in range(5):  # the free failures: a wrong password answers 401 at once
        assert _post(signin, "backoff_user", "wrong password").status_code == 401
    answer = _post(signin, "backoff_user", PASSWORD)  # the right one must wait its turn now
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert "登录失败次数过多" in answer.text and "Too many failed sign-ins" in answer.text
    row = _throttle(engine, "user:backoff_user")
    assert row.failures == 5 and row.span.total_seconds() == 1.0
    assert [a for a, _ in _audit(engine, "backoff_user")] == ["login_failed"] * 5 + ["login_throttled"]
    with engine.begin() as conn:  # the wait is over
        conn.execute(text("UPDATE login_throttle SET blocked_until = now() WHERE key = 'user:backoff_user'"))
    assert _post(signin, "backoff_user", PASSWORD).status_code == 303
