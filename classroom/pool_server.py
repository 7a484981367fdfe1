"""A fixed pool of threads (`concurrent.futures.ThreadPoolExecutor`): the accepting loop hands each client to
one of `--workers` threads.

Threads and memory stay fixed however many clients come; a client beyond the pool waits for a free thread.
Being threads, they share the GIL: `sleep` work overlaps, `cpu` work takes turns on one core.
"""

import socket
from concurrent.futures import ThreadPoolExecutor

import lab


def main():
    args = lab.parse_args(__doc__, lambda p: p.add_argument("--workers", type=int, default=8))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    lab.announce(args.host, sock.getsockname()[1], f"ThreadPoolExecutor, {args.workers} threads")

    def serve():
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            while True:
                client, _ = sock.accept()
                pool.submit(serve_and_close, client, args)

    lab.run_forever(serve)


def serve_and_close(client, args):
    with client:
        lab.serve_connection(client, args.proto, args.work)


if __name__ == "__main__":
    main()
