"""What every classroom server shares: the command line, the simulated work, and the two protocols.

Each server in this folder is one way of serving many clients, the ways the course teaches them: a sequential
`socketserver.TCPServer`, a thread per connection, a process per connection, a `select()` loop, a pool of
threads, `asyncio`, and a pool of processes for the computing. They differ only in *how* they serve; *what*
they answer lives here, once, so that a difference in the measurements is the model's and nothing else's.

Every server takes the same flags, so the lab can start any of them the same way:

    python3 classroom/threading_server.py --port 5000 --proto http --work cpu:10

  --port N       the port to listen on (0: any free port; the chosen one is printed)
  --proto P      echo (every line is sent back) or http (one small HTML page, keep-alive)
  --work W       none, sleep:MS (waiting, as for a database) or cpu:MS (pure-Python computing)

When ready, a server prints `listening on 127.0.0.1:PORT (...)`: the same line as `serverlab serve`.

Only the standard library is used.
"""

import argparse
import sys
import time

PAGE = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>classroom</title></head>\n"
    b"<body><h1>Hello from a Python classroom server</h1></body></html>\n"
)


def parse_args(description, extra=None):
    """The flags every classroom server takes (and `extra(parser)` adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--proto", choices=["echo", "http"], default="http")
    parser.add_argument("--work", default="none", type=parse_work,
                        help="none, sleep:MS or cpu:MS")
    if extra:
        extra(parser)
    return parser.parse_args()


def parse_work(text):
    """`none`, `sleep:50` or `cpu:10` (milliseconds; a trailing `ms` is allowed) as (kind, seconds)."""
    if text == "none":
        return ("none", 0.0)
    kind, _, amount = text.partition(":")
    if kind not in ("sleep", "cpu") or not amount:
        raise argparse.ArgumentTypeError(f"{text!r}: use none, sleep:MS or cpu:MS")
    try:
        ms = float(amount.removesuffix("ms"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {amount!r} is not a number of milliseconds")
    return (kind, ms / 1000.0)


def do_work(work):
    """The per-request work, done by the calling thread.

    `sleep` waits without computing: other threads may run meanwhile. `cpu` computes in pure Python until this
    thread has used that much CPU time, as a student's code would: it holds the GIL while it runs, so in one
    process only one thread computes at a time.
    """
    kind, seconds = work
    if kind == "sleep":
        time.sleep(seconds)
    elif kind == "cpu":
        spin(seconds)


def spin(seconds):
    """Computes until the calling thread has spent `seconds` of CPU time."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x = (x * 31 + i) % 1000003
    return x


def announce(host, port, model):
    """The ready line the lab waits for."""
    print(f"listening on {host}:{port} (classroom {model})", flush=True)


class Conversation:
    """One connection's protocol, bytes in, replies out, with no socket in it (so every model can use it).

    `feed(data)` returns (replies, close): the bytes to send for every request that `data` completed, and
    whether the connection should then be closed. Work is done by the caller, between `requests` and `reply`,
    so that each model can do it its own way (inline, in another thread, in another process).
    """

    def __init__(self, proto):
        self.proto = proto
        self.buffer = b""

    def requests(self, data):
        """Adds `data` and returns the complete requests in it: lines for echo, heads for HTTP."""
        self.buffer += data
        found = []
        if self.proto == "echo":
            if self.buffer:
                found.append(self.buffer)
                self.buffer = b""
            return found
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            found.append(head)
        return found

    def reply(self, request):
        """The reply to one request, and whether to close after it."""
        if self.proto == "echo":
            return request, False
        lines = request.split(b"\r\n")
        parts = lines[0].split()
        if len(parts) != 3:
            return http_reply(400, b"bad request\n", close=True), True
        method, _, version = parts
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        connection = headers.get(b"connection", b"")
        close = connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive")
        if method not in (b"GET", b"HEAD"):
            return http_reply(405, b"method not allowed\n", close=True), True
        body = b"" if method == b"HEAD" else PAGE
        return http_reply(200, body, close=close, length=len(PAGE)), close


def http_reply(status, body, close, length=None):
    reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def serve_connection(sock, proto, work):
    """Serves one connection to its end, blocking: read, work, reply, until the client leaves."""
    conversation = Conversation(proto)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for request in conversation.requests(data):
                do_work(work)
                reply, close = conversation.reply(request)
                sock.sendall(reply)
                if close:
                    return
    except OSError:
        return


def run_forever(server_forever):
    """Runs a serve-forever loop until Ctrl-C or SIGTERM, then exits quietly."""
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server_forever()
    except KeyboardInterrupt:
        pass
