"""The floor of the benchmark: the harness's recorded requests, replayed with one bare httpx.Client.

    python bench/replay.py RECORDED.json      (the token in $SCIM_TOKEN)

A program of its own, started and timed by bench/run.py exactly as the harness is (process start
to exit), so that the overhead ratio compares two programs that send the same requests: the
harness, and the least a Python program can do to send them. Requests go in the recorded order;
the ids the server hands out are mapped from the recorded run to this one (32-hex ids in paths
and bodies), so the replay does the same work. Prints one JSON line: requests, how many answers
had the recorded status, and the time of the request loop alone.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
from typing import Any

import httpx

TOKEN_MARKER = "${BENCH_TOKEN}"
_ID = re.compile(r"[0-9a-f]{32}")  # scim2-server's ids


def replay(records: list[dict[str, Any]], token: str) -> dict[str, Any]:
    """Send the recorded requests in order with one httpx.Client; ids mapped to the replay's."""
    mapping: dict[str, str] = {}

    def mapped(text: str) -> str:
        return _ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text) if mapping else text

    def learn(recorded: Any, now: Any) -> None:
        if isinstance(recorded, dict) and isinstance(now, dict):
            for key, value in recorded.items():
                if key == "id" and isinstance(value, str) and isinstance(now.get(key), str):
                    if value != now[key]:
                        mapping[value] = now[key]
                elif key in now:
                    learn(value, now[key])
        elif isinstance(recorded, list) and isinstance(now, list):
            for a, b in zip(recorded, now, strict=False):
                learn(a, b)

    same = 0
    prepared = [(r["method"], r["url"], [(k, v.replace(TOKEN_MARKER, token)) for k, v in r["headers"]],
                 base64.b64decode(r["body"]) if r["body"] is not None else None, r["status"], r["answer"])
                for r in records]
    with httpx.Client(follow_redirects=False, timeout=httpx.Timeout(30.0, connect=5.0)) as client:
        started = time.perf_counter()
        for method, url, headers, body, status, answer in prepared:
            if mapping:
                url = mapped(url)
                headers = [(k, mapped(v)) for k, v in headers]
                body = mapped(body.decode("utf-8")).encode("utf-8") if body else body
            response = client.request(method, url, headers=headers, content=body)
            same += response.status_code == status
            if answer and response.content[:1] == b"{":
                learn(json.loads(answer), response.json())
        loop = time.perf_counter() - started
    return {"loop_s": loop, "requests": len(prepared), "same_status": same}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as file:
        records = json.load(file)["exchanges"]
    print(json.dumps(replay(records, os.environ.get("SCIM_TOKEN", ""))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
