"""A trivial SCIM-shaped HTTP/1.1 endpoint on 127.0.0.1, for measuring the load client alone.

It answers at once and keeps connections alive: GET of a collection -> 200 with an empty
ListResponse, POST -> 201 with a new id, GET of that id -> 200 with the name the POST sent (the
load reads each created id back to prove it is its own), PATCH/PUT -> 200, DELETE -> 204. It does
no SCIM beyond that: whatever rate the load command reaches against it is the client's own
ceiling, not a server's.

    python bench/trivial_server.py [--port N] [--seconds S]

prints `http://127.0.0.1:PORT/scim/v2` on the first line, serves for at most S seconds (default
120), then exits by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import sys

_IDS = itertools.count(1)
_LIST = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}'
_NAMES: dict[bytes, bytes] = {}  # id -> the created resource's names, as JSON members
_NAME = re.compile(rb'"(userName|displayName)"\s*:\s*"(?:[^"\\]|\\.)*"')
_HEAD = "HTTP/1.1 {status}\r\nContent-Type: application/scim+json\r\nContent-Length: {length}\r\n\r\n"


def _answer(method: bytes, path: bytes, body_in: bytes) -> bytes:
    resource_id = path.rsplit(b"/", 1)[-1]
    if method == b"GET":
        names = _NAMES.get(resource_id)
        status, body = "200 OK", (_LIST if names is None else
                                  b'{"id":"%s"%s}' % (resource_id, b"," + names if names else b""))
    elif method == b"POST":
        new_id = b"%032x" % next(_IDS)
        _NAMES[new_id] = b",".join(m.group(0) for m in _NAME.finditer(body_in))
        body = b'{"id":"%s","meta":{"version":"W/\\"1\\""}}' % new_id
        status = "201 Created"
    elif method == b"DELETE":
        status, body = "204 No Content", b""
    else:
        status, body = "200 OK", b'{"id":"0"}'
    return _HEAD.format(status=status, length=len(body)).encode() + body


class _Http(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                break  # the body is still coming
            body_in = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            method, _, rest = head.partition(b" ")
            out.append(_answer(method, rest.split(b" ", 1)[0].split(b"?", 1)[0], body_in))
        if out:
            self.transport.write(b"".join(out))  # type: ignore[attr-defined]


async def _serve(port: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{bound}/scim/v2", flush=True)
    async with server:
        await asyncio.sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=120.0, help="exit after this long (default 120)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port, min(args.seconds, 3600.0)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
