"""Credentials in URLs never reach a log, a param, an artifact or Prefect's database.

``hide`` takes a setting's value (``http://user:secret@host/dump.xml.bz2``), keeps the
credentials in this process's environment (so a local Dask worker it starts inherits them) and
gives back the value with the password masked (``http://user:***@host/dump.xml.bz2``); that
masked value is what settings, runs and flows carry. ``credentials`` turns a masked URL back
into the bare URL and its credentials at the moment of a request, so they travel as an HTTP
header and appear in no URL an error message could print.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

_ENV = "KORFLOW_URL_CREDENTIALS"
MASK = "***"
# scheme://user:password@ -> the password; and secret-looking query values (?token=...).
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?P<secret>[^@\s/]+)(?=@)", re.I)
_QUERY = re.compile(
    r"(?P<head>[?&](?:[a-z0-9_-]*(?:token|secret|password|passwd|signature|sig|key))=)"
    r"(?P<secret>[^&\s#]+)",
    re.I,
)


def redact(text: str) -> str:
    """``text`` with every URL password and secret query value masked."""
    for pattern in (_USERINFO, _QUERY):
        text = pattern.sub(lambda m: m["head"] + MASK if m["secret"] != MASK else m[0], text)
    return text


def _masked(text: str) -> bool:
    return any(m["secret"] == MASK for p in (_USERINFO, _QUERY) for m in p.finditer(text))


def _stash() -> dict[str, str]:
    return json.loads(os.environ.get(_ENV, "{}"))


def hide(value: Any) -> Any:
    """``value`` (a string, or lists and dicts of them) with its credentials kept aside and
    masked, for settings that a run logs."""
    if isinstance(value, dict):
        return {k: hide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide(v) for v in value]
    if not isinstance(value, str) or (masked := redact(value)) == value:
        return value
    os.environ[_ENV] = json.dumps({**_stash(), masked: value})
    return masked


def credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL to request (without user info; secret query values restored) and its basic-auth
    pair, for a URL ``hide`` masked or one given as it is."""
    real = _stash().get(url, url)
    if _masked(real):  # masked when logged, and not given again in this process
        raise PermissionError(
            f"{real}: its credentials were masked when the settings were logged (korflow "
            "reproduce, a deployment, a remote worker): give the full URL again"
        )
    parts = urlsplit(real)
    if parts.username is None:
        return real, None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    bare = urlunsplit(parts._replace(netloc=netloc))
    return bare, (unquote(parts.username), unquote(parts.password or ""))
