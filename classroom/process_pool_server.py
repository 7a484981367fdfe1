"""Threads for the waiting, processes for the computing (`ProcessPoolExecutor`).

A thread per client reads and writes; each request's work is sent to a pool of worker processes and the thread
waits for the result. The processes have a GIL each, so `cpu` work runs on every core at once: what the
threads alone cannot do. Sending the work to another process costs a little per request (pickling, a pipe).
"""

import os
import socket
import threading
from concurrent.futures import ProcessPoolExecutor

import lab


def main():
    args = lab.parse_args(
        __doc__, lambda p: p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    )
    pool = ProcessPoolExecutor(max_workers=args.workers)
    # Start the processes now, not on the first request.
    list(pool.map(lab.do_work, [("none", 0.0)] * args.workers))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    lab.announce(args.host, sock.getsockname()[1], f"ProcessPoolExecutor, {args.workers} processes")

    def serve_client(client):
        conversation = lab.Conversation(args.proto)
        with client:
            try:
                while data := client.recv(65536):
                    for request in conversation.requests(data):
                        pool.submit(lab.do_work, args.work).result()
                        reply, close = conversation.reply(request)
                        client.sendall(reply)
                        if close:
                            return
            except OSError:
                pass

    def serve():
        while True:
            client, _ = sock.accept()
            threading.Thread(target=serve_client, args=(client,), daemon=True).start()

    try:
        lab.run_forever(serve)
    finally:
        pool.shutdown(cancel_futures=True)


if __name__ == "__main__":
    main()
