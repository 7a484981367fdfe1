"""A process per connection (`socketserver.ForkingTCPServer`).

Each client is served by a child process, a copy of the server made by `fork()`. Processes do not share a GIL,
so `cpu` work runs on every core at once; the price is a process per client (socketserver keeps at most 40).
"""

import socketserver

import lab


def main():
    args = lab.parse_args(__doc__)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            lab.serve_connection(self.request, args.proto, args.work)

    class Server(socketserver.ForkingTCPServer):
        allow_reuse_address = True
        request_queue_size = 128

    with Server((args.host, args.port), Handler) as server:
        lab.announce(args.host, server.server_address[1], "ForkingTCPServer")
        lab.run_forever(server.serve_forever)


if __name__ == "__main__":
    main()
