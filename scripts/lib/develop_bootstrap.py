"""Prepare a freshly started development Home Assistant for scripts/develop.

Once the instance answers on HTTP, this onboards it (owner user ``demo`` /
``sunstream``) and adds one simulated Sunstream system, so that
``scripts/develop`` ends with a logged-in-ready UI showing live entities.
With ``--winet HOST:PORT`` / ``--alphaess HOST:PORT`` / ``--sungrow
HOST:PORT`` (``scripts/develop --fakes``) it also adds the fake WiNet
gateway, the fake AlphaESS unit and the fake Sungrow inverter (Modbus TCP)
running there, through the same config-flow steps a user takes.

Everything goes through Home Assistant's public HTTP APIs, the very ones the
frontend uses: the onboarding views, the login flow and ``/auth/token``, and
the config-flow views. Writing ``.storage`` files by hand would be quicker
but would bypass (and silently drift from) the real code paths: the
integration's config flow, including its menu and validation, runs exactly as
it does when a user clicks "Add integration", and a flow that breaks shows up
here as a clear failure instead of as a half-initialised instance.

Then it makes the first screen show the product: the Energy dashboard gets
the simulated system's grid, solar and battery sensors (``energy/save_prefs``),
and a Sunstream dashboard made of ``docs/examples/dashboard.yaml``, the very
file users copy, is added (``lovelace/dashboards/create``,
``lovelace/config/save``) and made the one Home Assistant opens on
(``frontend/set_system_data``, the system-wide default dashboard).

A clean start raises no repair issue of its own making: Home Assistant's port
comes from ``SETUP_PORT`` (set by ``scripts/develop``), not from an ``http:``
YAML block, which Home Assistant 2026.10 deprecates and would stage as an
unconfirmed trial (``homeassistant/components/http/config.py``); and the
"Core installation method is deprecated" repair, which is about running a
production system from a venv, is dismissed the way a user dismisses it
(``repairs/ignore_issue``). Any other repair stays visible.

The script is idempotent, so ``scripts/develop --keep`` can run it against a
config dir that is already onboarded and already has a Sunstream entry; it
keeps the Energy preferences, the dashboard and the default dashboard it
finds.

Only aiohttp and PyYAML are used; both ship with Home Assistant.
"""

from __future__ import annotations

import argparse
import asyncio
from http import HTTPStatus
import json
import os
from pathlib import Path
import re
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import aiohttp
import yaml
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

DOMAIN = "sunstream"
REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "docs" / "examples" / "dashboard.yaml"
DASHBOARD_URL = "dashboard-sunstream"  # Home Assistant wants a "-" in it
DASHBOARD_ICON = "mdi:solar-power-variant"
# The device id docs/examples/dashboard.yaml (like docs/use-cases.md) uses.
DEVICE_PLACEHOLDER = "0123456789abcdef0123456789abcdef"

USER_NAME = "Demo"
USERNAME = "demo"
PASSWORD = "sunstream"
LANGUAGE = "en"

MENU_OPTION = "simulated"
WINET_OPTION = "winet"
ALPHAESS_OPTION = "alphaess"
# The fake gateway's credentials are a real dongle's factory defaults.
WINET_USERNAME = "admin"
WINET_PASSWORD = "pw8888"
ALPHAESS_UNIT = 85
SUNGROW_OPTION = "sungrow_modbus"
SUNGROW_UNIT = 1
# Named like the system of the examples in docs/ (docs/use-cases.md,
# docs/examples/dashboard.yaml), so they work in the demo as they are.
SYSTEM: dict[str, Any] = {
    "name": "Rooftop",
    "pv_peak_kw": 5.5,
    "battery_kwh": 10,
    "update_interval": 5,
    "tariff": 0.85,
    "co2_factor": 0.5,
}
SYSTEM_SLUG = "rooftop"  # the object id prefix of its entities

# Repair issues that running Home Assistant Core from a venv, as scripts/develop
# does, raises by itself: (domain, issue id).
DEV_SETUP_ISSUES = frozenset({("homeassistant", "deprecated_method")})
# Home Assistant raises them once started (EVENT_HOMEASSISTANT_STARTED); by the
# time the entries are added they are there. Wait this much longer at most.
ISSUE_WAIT = 15.0

RUNNING_TIMEOUT = 600.0  # seconds from first answer to state RUNNING
# A one-client AlphaESS unit may still count the flow's own connection when
# the entry first sets up; Home Assistant retries within seconds.
LOADED_TIMEOUT = 90.0
PROGRESS_EVERY = 30.0  # seconds between "still waiting" lines
POLL_EVERY = 2.0  # seconds between probes
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=5)
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=3)

RECOVERY_MARKER = "Activating recovery mode"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? ")


class BootstrapError(Exception):
    """A step failed; the message says which and why."""


def _tty(stream: TextIO) -> bool:
    return stream.isatty()


def log(message: str) -> None:
    """Print a progress line in the same style as scripts/lib/provision.sh."""
    prefix = "\033[1;34m[sunstream]\033[0m" if _tty(sys.stderr) else "[sunstream]"
    print(f"{prefix} {message}", file=sys.stderr, flush=True)


class ConsoleLog:
    """Follow Home Assistant's console log to show progress and spot failure."""

    def __init__(self, path: Path | None, width: int = 110) -> None:
        """Follow path (None: there is no log to follow)."""
        self._path = path
        self._width = width
        self._offset = 0
        self._partial = ""
        self.last_line: str | None = None
        self.recovery_mode = False

    def read(self) -> None:
        """Take in whatever was written since the last call."""
        if self._path is None:
            return
        try:
            with self._path.open("rb") as handle:
                if handle.seek(0, os.SEEK_END) < self._offset:
                    self._offset, self._partial = 0, ""  # truncated
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:
            return
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk.decode("utf-8", "replace")).split("\n")
        for raw in lines:
            line = _TIMESTAMP.sub("", _ANSI.sub("", raw)).strip()
            if not line:
                continue
            if len(line) > self._width:
                line = line[: self._width - 1] + "…"
            self.last_line = line
            if RECOVERY_MARKER in line:
                self.recovery_mode = True


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Hass:
    """A thin client for the handful of Home Assistant endpoints used here."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        """Talk to the instance at url, e.g. http://127.0.0.1:8123."""
        self._session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        self.redirect_uri = f"{self.url}/?auth_callback=1"
        self.token: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        auth: bool = True,
        ok: tuple[int, ...] = (HTTPStatus.OK,),
    ) -> tuple[int, Any]:
        """Send a request; return (status, decoded body) or raise BootstrapError."""
        headers: dict[str, str] = {}
        if auth:
            if self.token is None:
                raise BootstrapError(f"{method} {path}: not logged in")
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with self._session.request(
                method,
                f"{self.url}{path}",
                json=json,
                data=form,
                headers=headers,
                timeout=REQUEST_TIMEOUT,
            ) as resp:
                text = await resp.text()
                body: Any = text
                if resp.content_type == "application/json" and text:
                    body = await resp.json()
                if resp.status not in ok:
                    raise BootstrapError(
                        f"{method} {path} answered HTTP {resp.status}: {_short(body)}"
                    )
                return resp.status, body
        except (aiohttp.ClientError, TimeoutError) as err:
            raise BootstrapError(f"{method} {path} failed: {err!r}") from err

    async def command(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one WebSocket API command (as the logged-in user); return the result."""
        if self.token is None:
            raise BootstrapError(f"{message.get('type')}: not logged in")
        url = self.url.replace("http", "ws", 1) + "/api/websocket"
        try:
            async with self._session.ws_connect(url) as ws:
                await ws.receive_json(timeout=REQUEST_TIMEOUT.total)
                await ws.send_json({"type": "auth", "access_token": self.token})
                answer = await ws.receive_json(timeout=REQUEST_TIMEOUT.total)
                if answer.get("type") != "auth_ok":
                    raise BootstrapError(f"websocket auth refused: {_short(answer)}")
                await ws.send_json({"id": 1, **message})
                result: dict[str, Any] = await ws.receive_json(timeout=REQUEST_TIMEOUT.total)
                return result
        except (aiohttp.ClientError, TimeoutError) as err:
            raise BootstrapError(f"{message.get('type')} failed: {err!r}") from err

    async def call(self, message: Mapping[str, Any]) -> Any:
        """Send one WebSocket API command; return its result or raise BootstrapError."""
        answer = await self.command(message)
        if not answer.get("success"):
            raise BootstrapError(f"{message.get('type')} failed: {_short(answer.get('error'))}")
        return answer.get("result")

    async def probe(self, path: str) -> tuple[int, object] | None:
        """GET path without auth; None while nothing answers (yet)."""
        try:
            async with self._session.get(f"{self.url}{path}", timeout=PROBE_TIMEOUT) as resp:
                if resp.content_type == "application/json":
                    return resp.status, await resp.json()
                return resp.status, await resp.text()
        except aiohttp.ClientError, TimeoutError:
            return None


def _short(body: object, limit: int = 400) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= limit else text[:limit] + "…"


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- waiting -----------------------------------------------------------------


def _check_alive(hass_pid: int | None, console: ConsoleLog, when: str) -> None:
    """Raise if Home Assistant exited or fell back to recovery mode."""
    if not _alive(hass_pid):
        raise BootstrapError(f"Home Assistant exited {when}")
    console.read()
    if console.recovery_mode:
        raise BootstrapError(
            "Home Assistant started in recovery mode (a core integration or its "
            "packages failed to set up, or configuration.yaml is broken)"
        )


async def wait_for_http(
    hass: Hass, limit: float, hass_pid: int | None, console: ConsoleLog
) -> list[dict[str, Any]] | None:
    """Poll GET /api/onboarding until Home Assistant answers.

    Return the onboarding steps, or None when onboarding is already complete
    (the onboarding views are only registered while it is not).
    """
    start = time.monotonic()
    next_report = start + PROGRESS_EVERY
    log(f"waiting for Home Assistant on {hass.url} (a first start installs packages: minutes)")
    while True:
        _check_alive(hass_pid, console, "before it answered on HTTP")
        answer = await hass.probe("/api/onboarding")
        now = time.monotonic()
        if answer is not None and answer[0] == HTTPStatus.OK:
            log(f"Home Assistant answered after {_format_duration(now - start)}")
            steps: list[dict[str, Any]] = answer[1]  # type: ignore[assignment]
            return steps
        if answer is not None and answer[0] == HTTPStatus.NOT_FOUND:
            log("Home Assistant answered; it was onboarded in an earlier run")
            return None
        if now - start > limit:
            raise BootstrapError(
                f"Home Assistant did not answer on {hass.url} within {_format_duration(limit)}"
            )
        if now >= next_report:
            next_report += PROGRESS_EVERY
            last = f" | {console.last_line}" if console.last_line else ""
            log(f"still waiting ({_format_duration(now - start)}){last}")
        await asyncio.sleep(POLL_EVERY)


async def wait_until_running(
    hass: Hass, limit: float, hass_pid: int | None, console: ConsoleLog
) -> None:
    """Poll GET /api/core/state until the core reports RUNNING."""
    start = time.monotonic()
    next_report = start + PROGRESS_EVERY
    while True:
        _check_alive(hass_pid, console, "during start-up")
        _, body = await hass.request("GET", "/api/core/state")
        state = body.get("state") if isinstance(body, dict) else None
        if state == "RUNNING":
            log(f"Home Assistant is running ({_format_duration(time.monotonic() - start)})")
            return
        now = time.monotonic()
        if now - start > limit:
            raise BootstrapError(
                f"Home Assistant still in state {state!r} after {_format_duration(limit)}"
            )
        if now >= next_report:
            next_report += PROGRESS_EVERY
            last = f" | {console.last_line}" if console.last_line else ""
            log(f"waiting for start-up to finish (state {state}){last}")
        await asyncio.sleep(1)


# --- auth and onboarding -----------------------------------------------------


async def exchange_code(hass: Hass, code: str) -> None:
    """Trade an authorization code for an access token (POST /auth/token)."""
    _, body = await hass.request(
        "POST",
        "/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": hass.client_id,
        },
        auth=False,
    )
    try:
        hass.token = body["access_token"]
    except (KeyError, TypeError) as err:
        raise BootstrapError(f"/auth/token gave no access token: {_short(body)}") from err


async def login(hass: Hass) -> None:
    """Log in as the demo user through the login flow the frontend uses."""
    _, flow = await hass.request(
        "POST",
        "/auth/login_flow",
        json={
            "client_id": hass.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": hass.redirect_uri,
        },
        auth=False,
    )
    _, result = await hass.request(
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        json={"client_id": hass.client_id, "username": USERNAME, "password": PASSWORD},
        auth=False,
    )
    if result.get("type") != "create_entry":
        raise BootstrapError(
            f"could not log in as {USERNAME!r}: "
            f"{_short(result.get('errors') or result)}; the kept config dir has "
            "other users, run scripts/develop without --keep"
        )
    await exchange_code(hass, result["result"])


async def onboard(hass: Hass, steps: list[dict[str, Any]] | None) -> None:
    """Finish every onboarding step still open, then hold an access token."""
    done = {s["step"] for s in steps if s.get("done")} if steps is not None else None

    def todo(step: str) -> bool:
        return done is not None and step not in done

    if todo("user"):
        _, body = await hass.request(
            "POST",
            "/api/onboarding/users",
            json={
                "client_id": hass.client_id,
                "name": USER_NAME,
                "username": USERNAME,
                "password": PASSWORD,
                "language": LANGUAGE,
            },
            auth=False,
        )
        await exchange_code(hass, body["auth_code"])
        log(f"onboarding: created owner {USERNAME!r}")
    else:
        await login(hass)
        log(f"logged in as {USERNAME!r}")

    # 403 means "step already done": harmless if we raced a browser tab.
    if todo("core_config"):
        await hass.request(
            "POST",
            "/api/onboarding/core_config",
            json={},
            ok=(HTTPStatus.OK, HTTPStatus.FORBIDDEN),
        )
    if todo("analytics"):
        await hass.request(
            "POST",
            "/api/onboarding/analytics",
            json={},
            ok=(HTTPStatus.OK, HTTPStatus.FORBIDDEN),
        )
    if todo("integration"):
        await hass.request(
            "POST",
            "/api/onboarding/integration",
            json={"client_id": hass.client_id, "redirect_uri": hass.redirect_uri},
            ok=(HTTPStatus.OK, HTTPStatus.FORBIDDEN),
        )
    if done is not None:
        log("onboarding: done")


# --- the Sunstream config entry ----------------------------------------------


def _describe(result: object) -> str:
    """Explain an unexpected config-flow result in one line."""
    if not isinstance(result, dict):
        return _short(result)
    kind = result.get("type")
    if kind == "abort":
        return f"flow aborted: {result.get('reason')}"
    if kind == "form" and result.get("errors"):
        return f"form {result.get('step_id')!r} has errors {result['errors']}"
    if kind == "form":
        fields = [f.get("name") for f in result.get("data_schema") or []]
        return f"flow stopped at form {result.get('step_id')!r} with fields {fields}"
    if kind == "menu":
        options = result.get("menu_options")
        return f"flow stopped at menu {result.get('step_id')!r}: {options}"
    return f"unexpected result {_short(result)}"


async def _walk_flow(
    hass: Hass,
    flow_id: str,
    result: dict[str, Any],
    option: str,
    form: Mapping[str, Any],
    *,
    may_abort: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Pick ``option`` in the menu, fill in its form; return the result.

    The result creates an entry, or aborts for one of the ``may_abort``
    reasons; anything else is an error.
    """
    if result.get("type") != "menu" or option not in (result.get("menu_options") or []):
        raise BootstrapError(f"expected a menu offering {option!r}: {_describe(result)}")
    _, result = await hass.request(
        "POST",
        f"/api/config/config_entries/flow/{flow_id}",
        json={"next_step_id": option},
    )
    if result.get("type") != "form":
        raise BootstrapError(f"after choosing {option!r}: {_describe(result)}")

    status, result = await hass.request(
        "POST",
        f"/api/config/config_entries/flow/{flow_id}",
        json=form,
        ok=(HTTPStatus.OK, HTTPStatus.BAD_REQUEST),
    )
    if status == HTTPStatus.BAD_REQUEST:
        raise BootstrapError(f"the form rejected {form}: {_short(result)}")
    if result.get("type") == "abort" and result.get("reason") in may_abort:
        return result
    if result.get("type") != "create_entry":
        raise BootstrapError(f"{DOMAIN} flow did not create an entry: {_describe(result)}")
    return result


async def _run_flow(
    hass: Hass, option: str, form: Mapping[str, Any], *, may_abort: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Start the integration's config flow and walk it to the end."""
    status, result = await hass.request(
        "POST",
        "/api/config/config_entries/flow",
        json={"handler": DOMAIN, "show_advanced_options": False},
        ok=(HTTPStatus.OK, HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND),
    )
    if status != HTTPStatus.OK:
        raise BootstrapError(
            f"cannot start the {DOMAIN} config flow (HTTP {status}: {_short(result)}); "
            "is the integration importable? see the log"
        )
    flow_id = result["flow_id"]
    try:
        return await _walk_flow(hass, flow_id, result, option, form, may_abort=may_abort)
    except BootstrapError:
        # Do not leave a half-filled flow behind in the UI.
        await hass.request(
            "DELETE",
            f"/api/config/config_entries/flow/{flow_id}",
            ok=(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
        )
        raise


def _warn_unless_loaded(entry: dict[str, Any]) -> None:
    state = entry.get("state")
    if state not in (None, "loaded"):
        reason = entry.get("reason")
        why = f": {reason}" if reason else ""
        log(f"warning: {entry.get('title')!r} is {state!r}, not 'loaded'{why}; see the log")


async def add_system(hass: Hass) -> None:
    """Create the simulated Sunstream system unless a Sunstream entry already exists."""
    _, entries = await hass.request("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
    if entries:
        for entry in entries:
            log(f"{DOMAIN}: keeping {entry.get('title')!r} (entry state: {entry.get('state')})")
            _warn_unless_loaded(entry)
        return

    entry = await add_simulated(hass, SYSTEM)
    log(f"{DOMAIN}: created {entry.get('title')!r} (entry state: {entry.get('state')})")


async def add_simulated(hass: Hass, system: Mapping[str, Any]) -> dict[str, Any]:
    """Add one simulated system through the config flow, as a user does; return its entry."""
    result = await _run_flow(hass, MENU_OPTION, system)
    entry: dict[str, Any] = result.get("result") or {}
    _warn_unless_loaded(entry)
    return entry


# --- a clean start: HTTP settings and repair issues ------------------------------


def stored_http_port(config_dir: Path) -> int | None:
    """The port Home Assistant serves on from the HTTP settings it stored.

    Since 2026.10 Home Assistant keeps them in ``.storage/http`` (a *stable*
    set, and a *pending* one on trial) and reads ``SETUP_PORT`` only while it
    has none. None: nothing stored yet (a fresh config dir).
    """
    try:
        stored = json.loads((config_dir / ".storage" / "http").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise BootstrapError(f"cannot read {config_dir}/.storage/http: {err}") from err
    data = stored.get("data") or {}
    pending = data.get("pending")
    active = pending if pending and pending.get("error") is None else data.get("stable") or {}
    port = active.get("server_port")
    return port if isinstance(port, int) else None


def check_port(config_dir: Path | None, url: str) -> None:
    """Fail early when a kept config dir serves on another port than asked for."""
    if config_dir is None:
        return
    wanted = URL(url).port
    stored = stored_http_port(config_dir)
    if stored is not None and stored != wanted:
        raise BootstrapError(
            f"the kept config dir serves on port {stored} (its stored HTTP settings, "
            f"Settings > System > Network), not {wanted}: run scripts/develop --keep "
            f"--port {stored}, or without --keep"
        )


async def confirm_http_settings(hass: Hass) -> None:
    """Keep HTTP settings that are on trial, as a user confirms them in the UI.

    A fresh config dir has none (the port comes from ``SETUP_PORT``); one kept
    from a scripts/develop that still wrote ``http:`` YAML may have settings
    on trial, which Home Assistant reverts after five minutes, restarting.
    """
    config = await hass.call({"type": "http/config"})
    if config.get("active_config_type") == "pending":
        await hass.call({"type": "http/config/promote"})
        log("confirmed the HTTP settings on trial")


async def dismiss_setup_issues(hass: Hass, limit: float = ISSUE_WAIT) -> list[tuple[str, str]]:
    """Ignore the repair issues this development set-up raises; return those ignored."""
    deadline = time.monotonic() + limit
    while True:
        issues = (await hass.call({"type": "repairs/list_issues"}))["issues"]
        present = {(i["domain"], i["issue_id"]): i for i in issues}
        if present.keys() >= DEV_SETUP_ISSUES or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    ignored = []
    for domain, issue_id in sorted(DEV_SETUP_ISSUES & present.keys()):
        if not present[(domain, issue_id)]["ignored"]:
            await hass.call(
                {
                    "type": "repairs/ignore_issue",
                    "domain": domain,
                    "issue_id": issue_id,
                    "ignore": True,
                }
            )
            ignored.append((domain, issue_id))
            log(f"dismissed the repair {domain}.{issue_id} (a development install's own)")
    return ignored


# --- the first screen: Energy dashboard and the Sunstream dashboard --------------


def energy_prefs(slug: str = SYSTEM_SLUG, tariff: float = SYSTEM["tariff"]) -> dict[str, Any]:
    """The Energy dashboard's sources for the simulated system (docs/entities.md).

    Signs follow the Energy dashboard's convention, as the sensors do: grid
    power + import / - export, battery power + discharge / - charge.
    """
    sensor = f"sensor.{slug}"
    return {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": f"{sensor}_grid_import_energy",
                "stat_energy_to": f"{sensor}_grid_export_energy",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": tariff,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "stat_rate": f"{sensor}_grid_power",
                "cost_adjustment_day": 0,
            },
            {
                "type": "solar",
                "stat_energy_from": f"{sensor}_pv_energy_total",
                "stat_rate": f"{sensor}_pv_power",
            },
            {
                "type": "battery",
                "stat_energy_from": f"{sensor}_battery_discharge_energy",
                "stat_energy_to": f"{sensor}_battery_charge_energy",
                "stat_rate": f"{sensor}_battery_power",
                "stat_soc": f"{sensor}_battery_state_of_charge",
                "capacity": float(SYSTEM["battery_kwh"]),
            },
        ],
        "device_consumption": [],
    }


def energy_entities(prefs: Mapping[str, Any]) -> set[str]:
    """Every entity the Energy preferences name."""
    return {
        value
        for source in prefs["energy_sources"]
        for key, value in source.items()
        if key.startswith("stat_") and isinstance(value, str)
    }


def load_dashboard(device_id: str, path: Path = DASHBOARD) -> dict[str, Any]:
    """The Lovelace config of docs/examples/dashboard.yaml for the system ``device_id``."""
    text = path.read_text(encoding="utf-8").replace(DEVICE_PLACEHOLDER, device_id)
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def _walk(node: object) -> Iterator[dict[str, Any]]:
    """Every mapping in a Lovelace config, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def dashboard_entities(config: Mapping[str, Any]) -> set[str]:
    """Every entity id a Lovelace config shows."""
    found: set[str] = set()
    for node in _walk(config):
        if isinstance(entity := node.get("entity"), str):
            found.add(entity)
        for item in node.get("entities") or []:
            if isinstance(item, str):
                found.add(item)
    return found


def dashboard_actions(config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (action, data) a Lovelace config's buttons perform."""
    return [
        (node["perform_action"], dict(node.get("data") or {}))
        for node in _walk(config)
        if node.get("action") == "perform-action"
    ]


def card_types(config: Mapping[str, Any]) -> set[str]:
    """Every card type a Lovelace config uses."""
    return {
        node["type"]
        for view in config.get("views") or []
        for node in _walk(view.get("cards") or [])
        if isinstance(node.get("type"), str)
    }


async def _missing_entities(hass: Hass, wanted: set[str]) -> list[str]:
    _, states = await hass.request("GET", "/api/states")
    return sorted(wanted - {state["entity_id"] for state in states})


async def system_device_id(hass: Hass, entity_id: str) -> str:
    """The device id of the system that has ``entity_id``."""
    entry = await hass.call({"type": "config/entity_registry/get", "entity_id": entity_id})
    device_id = entry.get("device_id")
    if not isinstance(device_id, str):
        raise BootstrapError(f"{entity_id} belongs to no device")
    return device_id


async def set_up_energy(hass: Hass) -> None:
    """Give the Energy dashboard the system's sensors, unless it is set up already."""
    current = await hass.command({"type": "energy/get_prefs"})
    if current.get("success") and (current.get("result") or {}).get("energy_sources"):
        log("Energy dashboard: keeping its sources")
        return
    prefs = energy_prefs()
    if missing := await _missing_entities(hass, energy_entities(prefs)):
        raise BootstrapError(f"the Energy dashboard's sensors do not exist: {missing}")
    await hass.call({"type": "energy/save_prefs", **prefs})
    log("Energy dashboard: grid, solar and battery set up")


async def set_up_dashboard(hass: Hass) -> None:
    """Add the Sunstream dashboard and open Home Assistant on it, unless it exists."""
    dashboards = await hass.call({"type": "lovelace/dashboards/list"})
    if any(d.get("url_path") == DASHBOARD_URL for d in dashboards):
        log(f"dashboard {DASHBOARD_URL}: keeping it")
        return
    device_id = await system_device_id(hass, f"binary_sensor.{SYSTEM_SLUG}_connection")
    config = load_dashboard(device_id)
    if missing := await _missing_entities(hass, dashboard_entities(config)):
        raise BootstrapError(
            f"{DASHBOARD.relative_to(REPO)} names entities that do not exist: {missing}"
        )
    await hass.call(
        {
            "type": "lovelace/dashboards/create",
            "url_path": DASHBOARD_URL,
            "title": config.get("title", "Sunstream"),
            "icon": DASHBOARD_ICON,
            "show_in_sidebar": True,
            "require_admin": False,
            "mode": "storage",
        }
    )
    await hass.call({"type": "lovelace/config/save", "url_path": DASHBOARD_URL, "config": config})
    # The system-wide default dashboard, which the frontend opens on for every
    # user who picked none of their own; a default chosen before stays.
    core = await hass.call({"type": "frontend/get_system_data", "key": "core"}) or {}
    system_data = core.get("value") or {}
    if not system_data.get("default_panel"):
        await hass.call(
            {
                "type": "frontend/set_system_data",
                "key": "core",
                "value": {**system_data, "default_panel": DASHBOARD_URL},
            }
        )
    log(f"dashboard {DASHBOARD_URL}: {DASHBOARD.relative_to(REPO)}, opened first")


# --- the fake devices (scripts/develop --fakes) -----------------------------------


def split_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as given on the command line."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def winet_form(host: str, port: int) -> dict[str, Any]:
    """The WiNet step as a user fills it for the fake gateway.

    A port in the host field serves every transport of the fake (the
    integration's documented way to reach a gateway behind a forwarded port).
    """
    return {
        "host": f"{host}:{port}",
        "username": WINET_USERNAME,
        "password": WINET_PASSWORD,
        "security": {"tls_mode": "bypass"},
    }


def alphaess_form(host: str, port: int) -> dict[str, Any]:
    """The AlphaESS step for the fake unit (its port in the collapsed section)."""
    return {
        "host": host,
        "connection": {"port": port, "unit_id": ALPHAESS_UNIT, "model": "standard"},
    }


def sungrow_form(host: str, port: int) -> dict[str, Any]:
    """The Sungrow Modbus step for the fake inverter, as on its LAN port."""
    return {
        "host": host,
        "connection": {"port": port, "unit_id": SUNGROW_UNIT, "connection_type": "lan"},
    }


async def add_device(hass: Hass, label: str, option: str, form: Mapping[str, Any]) -> str | None:
    """Add a fake device through the config flow; return its entry id (None: kept).

    The integration identifies a device by its serial, so a kept config dir
    that has it already ends in the flow's ``already_configured``.
    """
    result = await _run_flow(hass, option, form, may_abort=("already_configured",))
    if result.get("type") == "abort":
        log(f"{DOMAIN}: {label} is already configured, keeping it")
        return None
    entry = result.get("result") or {}
    log(f"{DOMAIN}: added {label} as {result.get('title')!r} (entry state: {entry.get('state')})")
    entry_id = entry.get("entry_id")
    return entry_id if isinstance(entry_id, str) else None


async def wait_until_loaded(hass: Hass, entry_ids: list[str], limit: float) -> None:
    """Wait for new entries to load; warn about any that still have not."""
    start = time.monotonic()
    entries: list[dict[str, Any]] = []
    while True:
        _, entries = await hass.request("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
        waiting = [
            e for e in entries if e.get("entry_id") in entry_ids and e.get("state") != "loaded"
        ]
        if not waiting or time.monotonic() - start > limit:
            break
        await asyncio.sleep(POLL_EVERY)
    for entry in waiting:
        _warn_unless_loaded(entry)


async def add_fakes(
    hass: Hass,
    winet: tuple[str, int] | None,
    alphaess: tuple[str, int] | None,
    sungrow: tuple[str, int] | None = None,
) -> list[tuple[str, str]]:
    """Add the fake devices that run; return banner rows describing them."""
    fakes = []
    if winet is not None:
        fakes.append(("Fake WiNet", winet, WINET_OPTION, winet_form(*winet)))
    if alphaess is not None:
        fakes.append(("Fake AlphaESS", alphaess, ALPHAESS_OPTION, alphaess_form(*alphaess)))
    if sungrow is not None:
        fakes.append(("Fake Sungrow", sungrow, SUNGROW_OPTION, sungrow_form(*sungrow)))
    added = []
    for label, _, option, form in fakes:
        if (entry_id := await add_device(hass, label.lower(), option, form)) is not None:
            added.append(entry_id)
    await wait_until_loaded(hass, added, LOADED_TIMEOUT)
    return [(label, f"{host}:{port}") for label, (host, port), _, _ in fakes]


# --- main ----------------------------------------------------------------------


def banner(
    public_url: str,
    config_dir: Path | None,
    log_file: Path | None,
    fakes: list[tuple[str, str]] | None = None,
) -> None:
    """Tell the user where to go and how to log in."""
    rows = [
        ("URL", public_url),
        ("Username", USERNAME),
        ("Password", PASSWORD),
        *(fakes or []),
    ]
    if config_dir:
        rows.append(("Config dir", str(config_dir)))
    if log_file:
        rows.append(("Console log", str(log_file)))
    width = max(len(k) for k, _ in rows)
    lines = ["Sunstream development instance is ready", ""]
    lines += [f"  {k + ':':<{width + 1}}  {v}" for k, v in rows]
    lines += ["", "Ctrl-C stops Home Assistant."]
    rule = "=" * max(len(line) for line in lines)
    bold, reset = ("\033[1m", "\033[0m") if _tty(sys.stdout) else ("", "")
    print(
        f"\n{rule}\n{bold}{lines[0]}{reset}",
        *lines[1:],
        f"{rule}\n",
        sep="\n",
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123", help="where to reach HA")
    parser.add_argument(
        "--public-url", default=None, help="URL to print in the banner (default: --url)"
    )
    parser.add_argument(
        "--config-dir", type=Path, default=None, help="HA's config dir (its stored port)"
    )
    parser.add_argument("--log-file", type=Path, default=None, help="HA's console log")
    parser.add_argument("--hass-pid", type=int, default=None, help="give up if it exits")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds to wait for HTTP (default 900)",
    )
    parser.add_argument(
        "--winet",
        type=split_address,
        default=None,
        metavar="HOST:PORT",
        help="also add the (fake) WiNet gateway listening there",
    )
    parser.add_argument(
        "--alphaess",
        type=split_address,
        default=None,
        metavar="HOST:PORT",
        help="also add the (fake) AlphaESS unit listening there (unit 85)",
    )
    parser.add_argument(
        "--sungrow",
        type=split_address,
        default=None,
        metavar="HOST:PORT",
        help="also add the (fake) Sungrow inverter listening there (Modbus TCP, unit 1)",
    )
    parser.add_argument(
        "--check-port",
        action="store_true",
        help="only check that --config-dir serves on --url's port (before starting HA)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    """Wait, onboard, add the system (and any fakes), print the banner."""
    async with aiohttp.ClientSession() as session:
        hass = Hass(session, args.url)
        console = ConsoleLog(args.log_file)
        steps = await wait_for_http(hass, args.timeout, args.hass_pid, console)
        await onboard(hass, steps)
        await wait_until_running(hass, RUNNING_TIMEOUT, args.hass_pid, console)
        await confirm_http_settings(hass)
        await add_system(hass)
        fakes = await add_fakes(hass, args.winet, args.alphaess, args.sungrow)
        await set_up_energy(hass)
        await set_up_dashboard(hass)
        await dismiss_setup_issues(hass)
    banner(args.public_url or args.url, args.config_dir, args.log_file, fakes)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point; return the process exit status."""
    args = parse_args(argv)
    # scripts/develop stops us with SIGTERM on Ctrl-C; leave without a fuss.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if args.check_port:
            check_port(args.config_dir, args.url)
            return 0
        asyncio.run(run(args))
    except BootstrapError as err:
        dead = "" if _alive(args.hass_pid) else " (Home Assistant is no longer running)"
        log(f"error: {err}{dead}")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
