"""Reading a HAR file (HTTP Archive 1.2): its SCIM entries as `Observed` exchanges, for `import`.

Browsers' developer tools, mitmproxy, Fiddler, Charles and Burp export what they saw as HAR: a
JSON document whose `log.entries` each hold one request (`method`, `url`, `headers`,
`postData.text`) and its response (`status`, `headers`, `content.text`, base64 when
`content.encoding` says so). The entries that went to the SCIM base URL become `Observed`
exchanges, in the order they started, and then a scenario exactly as a recording does
(`conformance.recording.compiler`): same captures, same generated values, same removal of secrets. HAR files
carry cookies and Authorization headers in clear; none of it is written.

The SCIM base URL is `--base-url`, or else the part of the entries' URLs before the first SCIM
endpoint (`/Users`, `/Groups`, `/ServiceProviderConfig`, ...), the most common one if they differ.
Entries to other URLs (a web page's scripts and images) are left out and counted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.engine.redact import Redactor
from conformance.recording.observed import Observed

__all__ = ["HarError", "HarImport", "read_har"]

_ENDPOINTS = ("users", "groups", "serviceproviderconfig", "serviceproviderconfigs", "resourcetypes", "schemas",
              "bulk", "me", ".search")
MAX_HAR_BYTES = 200 * 1024 * 1024


class HarError(Exception):
    """The file is not a HAR we can read; the message says why."""


@dataclass
class HarImport:
    """What a HAR file holds for the SCIM base URL: the exchanges, who wrote the file, when, what was skipped."""

    exchanges: list[Observed]
    base_url: str
    creator: str
    first: str | None
    last: str | None
    skipped: list[str] = field(default_factory=list)


def _base_of(url: str) -> str | None:
    """`https://h/scim/v2/Users/1?x` -> `https://h/scim/v2`; None when no SCIM endpoint is in the path."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index, segment in enumerate(segments):
        if segment.lower() in _ENDPOINTS:
            return f"{parts.scheme}://{parts.netloc}{'/'.join(segments[:index])}"
    return None


def _headers(raw: Any) -> list[tuple[str, str]]:
    out = []
    for header in raw if isinstance(raw, list) else []:
        if isinstance(header, dict) and isinstance(header.get("name"), str):
            out.append((header["name"], str(header.get("value", ""))))
    return out


def _content(response: dict[str, Any]) -> tuple[bytes, bool]:
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    text = content.get("text")
    if not isinstance(text, str):
        return b"", int(content.get("size") or 0) <= 0
    if str(content.get("encoding", "")).lower() == "base64":
        try:
            return base64.b64decode(text, validate=False), True
        except (binascii.Error, ValueError):
            return b"", False
    return text.encode("utf-8"), True


def read_har(path: Path, base_url: str | None = None) -> HarImport:
    """The SCIM exchanges of a HAR file, in the order they started."""
    try:
        if path.stat().st_size > MAX_HAR_BYTES:
            raise HarError(f"{path}: larger than {MAX_HAR_BYTES // 2**20} MB")
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise HarError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep to read
        raise HarError(f"{path}: not JSON ({exc})") from None
    log = data.get("log") if isinstance(data, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError(f"{path}: not a HAR file (no log.entries)")
    creator = log.get("creator") if isinstance(log.get("creator"), dict) else {}
    creator_name = " ".join(str(creator.get(k, "")) for k in ("name", "version")).strip() or "unknown tool"

    usable = []
    for position, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        response = entry.get("response") if isinstance(entry, dict) else None
        if isinstance(request, dict) and isinstance(response, dict) and isinstance(request.get("url"), str):
            usable.append((str(entry.get("startedDateTime", "")), position, request, response))
    usable.sort(key=lambda item: (item[0], item[1]))  # stable: entries that started together keep their order
    if base_url is None:
        bases = Counter(b for _, _, request, _ in usable if (b := _base_of(request["url"])))
        if not bases:
            raise HarError(f"{path}: no entry goes to a SCIM endpoint (/Users, /Groups, ...); pass --base-url")
        base_url = bases.most_common(1)[0][0]
    base = urlsplit(base_url)
    base_path = base.path.rstrip("/")
    redactor = Redactor()

    exchanges: list[Observed] = []
    skipped: list[str] = []
    for _started, position, request, response in usable:
        url = urlsplit(request["url"])
        method = str(request.get("method", "GET")).upper()
        shown = f"entry {position + 1} {method} {redactor.text(url.path)}"
        if (url.scheme, url.netloc) != (base.scheme, base.netloc) or not (
                url.path == base_path or url.path.startswith(base_path + "/")):
            skipped.append(f"{shown}: not under {base_url}")
            continue
        status = response.get("status")
        if not isinstance(status, int) or status < 100:
            skipped.append(f"{shown}: no answer (status {status!r})")
            continue
        post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
        body_text = post.get("text") if isinstance(post.get("text"), str) else ""
        body, complete = _content(response)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        exchanges.append(Observed(
            method=method,
            target=target,
            request_headers=_headers(request.get("headers")),
            request_body=body_text.encode("utf-8"),
            status=status,
            response_headers=_headers(response.get("headers")),
            response_body=body,
            response_complete=complete,
        ))
    times = [s for s, _, _, _ in usable if s]
    return HarImport(exchanges, base_url, creator_name, times[0] if times else None, times[-1] if times else None,
                     skipped)
