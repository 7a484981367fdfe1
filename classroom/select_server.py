"""One thread, one `select()` loop, over every socket: two listening ports and all their clients.

`select()` says which sockets are ready; the loop then does only what can be done without waiting: accept a
client, read what has arrived, answer it. One thread serves everyone, as long as nothing it does waits: a
`sleep` in the loop (a blocking call) or `cpu` work stops every other client for its duration.

    python3 classroom/select_server.py --port 5000 --port2 5001
"""

import select
import socket

import lab


def listener(host, port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def main():
    args = lab.parse_args(__doc__, lambda p: p.add_argument("--port2", type=int, default=0))
    listeners = [listener(args.host, args.port), listener(args.host, args.port2)]
    clients = {}
    for sock in listeners:
        lab.announce(args.host, sock.getsockname()[1], "select() loop")

    def serve():
        while True:
            ready, _, _ = select.select(listeners + list(clients), [], [])
            for sock in ready:
                if sock in listeners:
                    try:
                        client, _ = sock.accept()
                    except BlockingIOError:
                        continue
                    clients[client] = lab.Conversation(args.proto)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                close = not data
                for request in clients[sock].requests(data):
                    lab.do_work(args.work)
                    reply, close = clients[sock].reply(request)
                    try:
                        sock.sendall(reply)
                    except OSError:
                        close = True
                    if close:
                        break
                if close:
                    del clients[sock]
                    sock.close()

    lab.run_forever(serve)


if __name__ == "__main__":
    main()
