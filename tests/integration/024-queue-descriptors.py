#!/usr/bin/python3
"""Connections waiting in the queue hold a descriptor each, so the queue and
the default worker maximum are sized from the descriptor limit together: a
flood of connections that never speak must not take the descriptors that the
sessions already being served need for their destinations and pipes. With
RLIMIT_NOFILE at 256, ten clients past their greeting, then 400 silent
connections, the ten still get through (reply 0x00, data both ways)."""
import os
import socket
import sys
import time

import sgtest

NOFILE = 256
CLIENTS = 10
FLOOD = 400
SETLIMIT = ("import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
            "os.execv(sys.argv[1], sys.argv[1:])" % (NOFILE, NOFILE))


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(
            ["auth = none", "handshake_timeout = 60s"],
            cmd_prefix=[sys.executable, "-c", SETLIMIT]) as d:
        m = d.wait_log(r"started: workers \d+\.\.(\d+), queue (\d+), descriptor limit %d" % NOFILE)
        workers, queue = int(m[0][0]), int(m[0][1])
        sgtest.log("workers up to %d, queue %d at %d descriptors" % (workers, queue, NOFILE))
        assert queue < 1024, "queue_length was not cut to fit the descriptor limit"
        d.wait_log(r"queue_length 1024 cut to %d" % queue)

        clients = []
        for _ in range(CLIENTS):
            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x00") == 0
            clients.append(s)
        flood = []
        try:
            for _ in range(FLOOD):
                try:
                    flood.append(socket.create_connection((d.host, d.port), timeout=5))
                except OSError:
                    break
            time.sleep(0.5)  # let the acceptor take what it will
            for i, s in enumerate(clients):
                s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo.port))
                rep, _, _ = sgtest.read_reply(s)
                assert rep == 0, "client %d: reply 0x%02x under the flood:\n%s" % (
                    i, rep, d.log()[-3000:])
                msg = b"served %d" % i
                s.sendall(msg)
                assert sgtest.recv_exact(s, len(msg)) == msg
        finally:
            for s in flood + clients:
                s.close()
        assert "Too many open files" not in "\n".join(
            l for l in d.log().splitlines() if "session " in l), d.log()[-3000:]
        sgtest.log("%d clients served beside %d silent connections" % (CLIENTS, len(flood)))


sgtest.main(test)
