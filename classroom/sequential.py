"""The sequential server: one client at a time, served to the end (`socketserver.TCPServer`).

While one client is served, the others wait in the listen queue: with 50 ms of work a request, 20 requests a
second however many clients come. `request_queue_size` is socketserver's listen backlog, 5 by default: the
sixth client waiting overflows it, and its connection request is dropped and retried a second later.
"""

import socketserver

import lab


def main():
    args = lab.parse_args(__doc__)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            lab.serve_connection(self.request, args.proto, args.work)

    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.TCPServer((args.host, args.port), Handler) as server:
        lab.announce(args.host, server.server_address[1], "sequential TCPServer")
        lab.run_forever(server.serve_forever)


if __name__ == "__main__":
    main()
