#!/usr/bin/env python3
"""bench/delay_proxy.py: a TCP proxy that puts a network's distance between a client and the local stand-ins.

Every byte is held for the one-way delay in each direction (client to server, server to client), so a request
costs one round trip however it is framed, TLS included (TLS ends behind the proxy, at the stand-in). A new
connection costs one extra round trip before its first byte reaches the server: the TCP handshake a real network
would charge. Bandwidth stays unlimited; order within a direction is kept, and half-closes are passed on.

    delay_proxy.py --one-way-ms 20 --log FILE --ready FILE [--tls-cert PEM] [tls+]LISTEN_IP:PORT=UPSTREAM_IP:PORT ...

A `tls+` route also ends TLS in this process, behind the delay (the TLS bytes are the delayed ones, as on a real
network), with the certificate and key of --tls-cert, and forwards plain bytes: the AWS APIs are HTTPS, and the
local API stand-in speaks HTTP.

Writes one JSON line per connection event to --log (wall-clock seconds): {"event": "open"|"close", "t",
"listener", "connection", "client_port", "upstream_port"}; upstream_port is the proxy's own port toward the
upstream, which the stand-in's timeline records as the request's client port; behind a tls+ route a "tls" event
joins that port (accepted_port) to the terminator's own upstream_port. --ready is written once every
listener is bound. Stops on SIGTERM.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import time

CHUNK = 256 * 1024
QUEUED_CHUNKS = 64


class Proxy:
    def __init__(self, delay, log_path):
        self.delay = delay
        self.log = open(log_path, "a", buffering=1)
        self.connections = 0

    def record(self, **event):
        self.log.write(json.dumps({"t": time.time(), **event}) + "\n")

    async def pipe(self, reader, writer, first_extra):
        """Carries one direction: each chunk is written `delay` after it was read (the first one later still)."""
        queue = asyncio.Queue(QUEUED_CHUNKS)
        loop = asyncio.get_running_loop()

        async def read():
            extra = first_extra
            try:
                while True:
                    chunk = await reader.read(CHUNK)
                    await queue.put((loop.time() + self.delay + extra, chunk))
                    extra = 0.0
                    if not chunk:
                        return
            except (ConnectionError, OSError):
                await queue.put((loop.time(), None))

        async def write():
            while True:
                due, chunk = await queue.get()
                pause = due - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                try:
                    if chunk is None:  # the reading side broke: break this side too
                        writer.transport.abort()
                        return
                    if not chunk:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(chunk)
                    await writer.drain()
                except (ConnectionError, OSError):
                    return

        await asyncio.gather(read(), write())

    async def serve(self, listener, upstream, client_reader, client_writer):
        self.connections += 1
        number = self.connections
        client_port = client_writer.get_extra_info("peername")[1]
        try:
            server_reader, server_writer = await asyncio.open_connection(*upstream)
        except OSError:
            client_writer.transport.abort()
            return
        for writer in (client_writer, server_writer):
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream_port = server_writer.get_extra_info("sockname")[1]
        self.record(event="open", listener=listener, connection=number, client_port=client_port,
                    upstream_port=upstream_port)
        try:
            # The client's first bytes wait one extra round trip: its SYN and the server's SYN-ACK.
            await asyncio.gather(self.pipe(client_reader, server_writer, 2 * self.delay),
                                 self.pipe(server_reader, client_writer, 0.0))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self.record(event="close", listener=listener, connection=number)


async def tls_terminator(certificate, upstream, record):
    """A local TLS server that forwards the plain bytes to `upstream`; returns it and its address."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)

    async def forward(reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.transport.abort()
            return
        # Joins the stand-in's view (this side's port) to the delayed connection (the proxy's upstream port).
        record(event="tls", accepted_port=writer.get_extra_info("peername")[1],
               upstream_port=upstream_writer.get_extra_info("sockname")[1])

        async def copy(source, sink):
            try:
                while chunk := await source.read(CHUNK):
                    sink.write(chunk)
                    await sink.drain()
                if sink.can_write_eof():
                    sink.write_eof()
            except (ConnectionError, OSError, ssl.SSLError):
                sink.transport.abort()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))
        for w in (writer, upstream_writer):
            w.close()

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[:2]


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-way-ms", type=float, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--tls-cert", help="PEM with the certificate chain and key for tls+ routes")
    parser.add_argument("routes", nargs="+", metavar="LISTEN=UPSTREAM")
    arguments = parser.parse_args()
    proxy = Proxy(arguments.one_way_ms / 1000, arguments.log)
    servers = []
    for route in arguments.routes:
        listen, _, upstream = route.partition("=")
        listen_address, upstream_address = address(listen.removeprefix("tls+")), address(upstream)
        if listen.startswith("tls+"):
            if not arguments.tls_cert:
                parser.error(f"route {route} ends TLS, so --tls-cert is needed")
            terminator, upstream_address = await tls_terminator(arguments.tls_cert, upstream_address, proxy.record)
            servers.append(terminator)
        handler = (lambda name, target: lambda r, w: proxy.serve(name, target, r, w))(listen, upstream_address)
        servers.append(await asyncio.start_server(handler, *listen_address, reuse_address=True))
    with open(arguments.ready + ".tmp", "w") as ready:
        json.dump({"pid": os.getpid(), "one_way_ms": arguments.one_way_ms}, ready)
    os.rename(arguments.ready + ".tmp", arguments.ready)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
