"""One thread, one event loop, a coroutine per client (`asyncio`).

Each client's code reads like the blocking version, but every wait is an `await` that hands the thread back to
the loop, which serves another client meanwhile. `sleep` work is `await asyncio.sleep`: free. `cpu` work has no
`await` in it: the whole loop, every client, waits while one request computes.
"""

import asyncio

import lab


async def serve_client(reader, writer, args):
    conversation = lab.Conversation(args.proto)
    kind, seconds = args.work
    try:
        while data := await reader.read(65536):
            for request in conversation.requests(data):
                if kind == "sleep":
                    await asyncio.sleep(seconds)
                elif kind == "cpu":
                    lab.spin(seconds)
                reply, close = conversation.reply(request)
                writer.write(reply)
                await writer.drain()
                if close:
                    return
    except OSError:
        pass
    finally:
        writer.close()


async def main_async(args):
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, args), args.host, args.port, backlog=128, reuse_address=True
    )
    lab.announce(args.host, server.sockets[0].getsockname()[1], "asyncio")
    async with server:
        await server.serve_forever()


def main():
    args = lab.parse_args(__doc__)
    lab.run_forever(lambda: asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
