"""Every endpoint, fed bad input as every role: a 4xx with a reason, never a 5xx.

The operations come from the published OpenAPI schema (so a new endpoint is swept without
editing this file) plus the form-posting pages. For each: path parameters of the wrong
type, out of range and unknown; bodies that are not JSON, of the wrong shape, with wrong
types, out-of-range and non-finite numbers, extra fields, huge strings; and a seeded
random fuzz of JSON values. Deeper checks are reached too: a collector whose call has
ended (dispositions are validated for real) and a manager of the campaign (pacing is).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
from webkit import login, running, state_of, until, write_settings

BAD_SEGMENTS = ["abc", "-1", "0", "1.5", "99999999999999999999999", "%00", "nope", "c1%2F..", "é"]
BAD_QUERIES = [{"limit": "x"}, {"limit": "-5"}, {"limit": "1000000"}, {"limit": "1e3"}]
WEIRD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    10**30,
    -1e308,
    1e308,
    "",
    "x" * 10_000,
    "0001-01-01T00:00:00+05:00",
    "9999-12-31",
    "0001-01-01",
    "1e999",
    [],
    {},
    [1, 2],
    {"a": {"b": [None]}},
]
# Values that pass a field's type check, so random bodies reach the deeper checks.
PLAUSIBLE: dict[str, list[Any]] = {
    "kind": ["promise_to_pay", "callback", "refused", "wrong_party", "dispute",
             "cease_communication", "note"],
    "amount": ["10.00", "0.01", 5, "1e3", "-3", "123456789012.34"],
    "promise_date": ["2026-03-05", "2026-03-03", "2026-03-02", "2027-01-01", "9999-12-31"],
    "callback_at": ["2026-03-04T10:00:00", "2026-03-04T23:00:00", "2026-03-04T10:00:00+00:00",
                    "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59"],
    "note": ["hello", ""],
    "mode": ["preview", "progressive", "ratio", "adaptive", "predictive", "turbo"],
    "ratio": [1, 2.5, 10, 11],
    "target_abandon_rate": [0.01, 0.03, 0.029, 0.031, 0.5, 0, 1],
    "max_lines_per_collector": [1, 3, 10, 11, 0.5],
    "running": [True, False],
    "enabled": [True, False, "true"],
    "current_password": ["long enough pw", ""],
    "ref": ["0123456789abcdef", "ZZ"],
    "reason": ["lunch", "break", "nap"],
    "campaign": ["c1", "c2", "zz", "../c1"],
    "username": ["x", "alice", "new.user"],
    "password": ["long enough pw", "short"],
    "role": ["collector", "manager", "admin", "root"],
    "collector": ["alice", "someone-new"],
}  # fmt: skip
PAGE_FORMS = [
    ("POST", "/console/ready"),
    ("POST", "/console/pause"),
    ("POST", "/console/leave"),
    ("POST", "/console/hangup"),
    ("POST", "/console/disposition"),
    ("POST", "/manager/campaigns/{name}/running"),
    ("POST", "/manager/campaigns/{name}/pacing"),
    ("POST", "/login"),
    ("GET", "/cases/{case_id}"),
    ("GET", "/manager/campaigns/{name}/panel"),
    # Accounts ({name} is no account: the forms' refusals, not a change to a live account).
    ("POST", "/accounts/{name}/password"),
    ("POST", "/accounts/{name}/enabled"),
    ("POST", "/accounts/{name}/delete"),
    ("POST", "/accounts/{name}/sessions/end"),
    ("GET", "/accounts/{name}"),
    ("POST", "/password"),
]
FORM_FIELDS = ["campaign", "reason", "kind", "amount", "promise_date", "callback_at", "note",
               "case_id", "running", "mode", "ratio", "target_abandon_rate",
               "max_lines_per_collector", "username", "password", "confirm",
               "current_password", "enabled", "ref"]  # fmt: skip


def _fill(path: str, value: str) -> str:
    out = path
    for name in ("{case_id}", "{name}"):
        out = out.replace(name, value)
    return out


def _bodies(properties: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """(content type, raw body) variants for a JSON body with these properties."""
    yield "application/json", b""
    yield "application/json", b"{not json"
    yield "application/json", b"NaN"
    yield "application/json", b"[" * 5000 + b"]" * 5000
    yield "text/plain", b"hello"
    shapes: list[Any] = [[], "text", 3, None, {"unknown": 1}]
    for shape in shapes:
        yield "application/json", json.dumps(shape).encode()
    names = list(properties) or ["x"]
    for name in names:
        for value in WEIRD_VALUES:
            yield "application/json", json.dumps({name: value}).encode()
        yield "application/json", f'{{"{name}": NaN}}'.encode()
        yield "application/json", f'{{"{name}": Infinity}}'.encode()
    for _ in range(40):  # random combinations, mostly of plausible values
        body = {
            n: rng.choice(PLAUSIBLE.get(n, [None]))
            if rng.random() < 0.75
            else rng.choice([*WEIRD_VALUES, rng.random(), rng.randint(-9, 9)])
            for n in rng.sample(names, rng.randint(1, len(names)))
        }
        if rng.random() < 0.3:
            body["extra"] = 1
        yield "application/json", json.dumps(body).encode()


def _forms(rng: random.Random) -> Iterator[dict[str, str]]:
    yield {}
    for name in FORM_FIELDS:
        for value in ("", "x", "1e999", "0001-01-01T00:00", "é" * 3000):
            yield {name: value}
    for _ in range(25):
        yield {
            name: str(rng.choice(PLAUSIBLE.get(name, ["", "1", "-1"]))).lower()
            for name in rng.sample(FORM_FIELDS, rng.randint(1, 6))
        }


def _check(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400 and what.split()[1].startswith("/api/"):
        assert "detail" in response.json(), what


async def _all(calls: list[Coroutine[Any, Any, None]], at_once: int = 8) -> None:
    """Run the requests a few at a time (the server sees concurrent requests too)."""
    gate = asyncio.Semaphore(at_once)

    async def one(call: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def _call(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> None:
    if url.endswith("/events"):
        async with client.stream(method, url, **kw) as response:
            if response.status_code >= 400:
                await response.aread()
            _check(response, f"{method} {url}")
        return
    _check(await client.request(method, url, **kw), f"{method} {url} {kw}")


async def test_no_input_gets_a_5xx(tmp_path: Path) -> None:
    rng = random.Random(8)
    async with running(write_settings(tmp_path)) as live:
        clients = {name: live.client() for name in ("anonymous", "alice", "boss", "root")}
        try:
            for name, client in clients.items():
                if name != "anonymous":
                    await login(client, name)
            alice = clients["alice"]
            # Alice's call has ended: her dispositions are validated for real.
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            await until(lambda: state_of(live.daemon, "alice") == "on_call")
            for runner in live.daemon.runners.values():
                runner.engine.paused = True  # no new call replaces the one that ended
            await alice.post("/api/v1/me/hangup")
            await until(lambda: state_of(live.daemon, "alice") == "wrap_up")
            routed = (await alice.get("/api/v1/me")).json()["collector"]["call"]
            case_id = str(routed["case_id"])
            schema = (await clients["root"].get("/api/v1/openapi.json")).json()
            components = schema.get("components", {}).get("schemas", {})

            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    properties: dict[str, Any] = {}
                    ref = (
                        operation.get("requestBody", {})
                        .get("content", {})
                        .get("application/json", {})
                        .get("schema", {})
                    )
                    for option in ref.get("anyOf", [ref]):
                        target = option.get("$ref", "").rsplit("/", 1)[-1]
                        properties.update(components.get(target, {}).get("properties", {}))
                    good = _fill(path, case_id if "{case_id}" in path else "c1")
                    urls = [good] + [_fill(path, s) for s in BAD_SEGMENTS if "{" in path]
                    calls = []
                    for name, shared in clients.items():
                        # Logging in or out would change the shared clients' sessions.
                        client = live.client() if path == "/api/v1/session" else shared
                        for url in urls:
                            calls.append(_call(client, method.upper(), url))
                        if name == "anonymous":
                            continue  # refused before any input is read
                        if path == "/api/v1/session" and name != "root":
                            continue  # logging in is the same for everyone: sweep it once
                        for query in BAD_QUERIES:
                            calls.append(_call(client, method.upper(), good, params=query))
                        if method in ("post", "put", "patch", "delete"):
                            probe = await client.request(method.upper(), good, json={})
                            _check(probe, f"{method} {good} {{}}")
                            if probe.status_code == 403:
                                continue  # this role may not: the bodies would not be read
                            for content_type, body in _bodies(properties, rng):
                                calls.append(
                                    _call(
                                        client, method.upper(), good, content=body,
                                        headers={"content-type": content_type},
                                    )
                                )  # fmt: skip
                    await _all(calls)

            for method, path in PAGE_FORMS:
                good = _fill(path, case_id if "{case_id}" in path else "c1")
                urls = [good] + [_fill(path, s) for s in BAD_SEGMENTS if "{" in path]
                calls = []
                for name, client in clients.items():
                    calls += [_call(client, method, url) for url in urls]
                    role_page = path.startswith("/console") and name == "alice"
                    role_page |= path.startswith("/manager") and name == "boss"
                    role_page |= path == "/login" and name == "anonymous"
                    role_page |= path.startswith("/accounts") and name == "boss"
                    role_page |= path == "/password" and name == "alice"
                    if method == "POST" and role_page:
                        calls += [_call(client, method, good, data=form) for form in _forms(rng)]
                        files = {"note": ("x.txt", b"data")}
                        calls.append(_call(client, method, good, files=files))
                        calls.append(
                            _call(
                                client, method, good, content=b"--x\r\nbroken",
                                headers={"content-type": "multipart/form-data; boundary=x"},
                            )
                        )  # fmt: skip
                await _all(calls)

            for name, client in clients.items():  # the sweep ran with the sessions intact
                expected = 401 if name == "anonymous" else 200
                assert (await client.get("/api/v1/me")).status_code == expected, name
        finally:
            for client in clients.values():
                await client.aclose()
