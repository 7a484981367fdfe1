"""A thread per connection (`socketserver.ThreadingTCPServer`).

Each client gets a thread of its own, so a client waiting on its work no longer holds up the others: with
`sleep` work, throughput grows with the clients. With `cpu` work it does not: Python's global interpreter lock
(the GIL) lets one thread run Python code at a time, so the threads take turns on one core however many
there are.
"""

import socketserver

import lab


def main():
    args = lab.parse_args(__doc__)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            lab.serve_connection(self.request, args.proto, args.work)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 128

    with Server((args.host, args.port), Handler) as server:
        lab.announce(args.host, server.server_address[1], "ThreadingTCPServer")
        lab.run_forever(server.serve_forever)


if __name__ == "__main__":
    main()
