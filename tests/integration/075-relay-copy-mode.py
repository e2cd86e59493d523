#!/usr/bin/python3
"""The relay's copy mode (used when no pipes for splice() can be had, e.g.
out of descriptors) must not lose data behind a slow reader. With
RLIMIT_NOFILE at 64 and idle handshakes holding all but 3 descriptors, a
session gets its client and destination sockets but no pipes; 8 MiB sent to
a destination that reads slowly must arrive whole. (It used to stop at about
half: after partial writes the buffer's tail filled, recv() was asked for 0
bytes, and its 0 was taken for EOF; the record said a clean close.)"""
import hashlib
import os
import socket
import sys
import threading
import time

import sgtest

NOFILE = 64
SIZE = 8 << 20
SETLIMIT = ("import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
            "os.execv(sys.argv[1], sys.argv[1:])" % (NOFILE, NOFILE))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test():
    got = {"n": 0, "sha": hashlib.sha256(), "done": threading.Event()}

    def slow_sink(c):
        while True:
            d = c.recv(4096)
            if not d:
                break
            got["n"] += len(d)
            got["sha"].update(d)
            time.sleep(0.0005)
        got["done"].set()

    with sgtest.Server(slow_sink) as sink, sgtest.Daemon(
            ["auth = none", "handshake_timeout = 60s", "workers_max = 200"],
            cmd_prefix=[sys.executable, "-c", SETLIMIT]) as d:
        pid = d.proc.pid
        idle = []
        for _ in range(NOFILE):
            if open_fds(pid) >= NOFILE - 3:
                break
            idle.append(sgtest.connect_proxy(d))
            sgtest.wait_accepted(d)
            time.sleep(0.01)
        assert open_fds(pid) == NOFILE - 3, "could not fill the descriptor table: %d" % (
            open_fds(pid))
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", sink.port)
        assert rep == 0, "reply 0x%02x" % rep
        data = os.urandom(SIZE)
        s.settimeout(60)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        assert got["done"].wait(60), "the destination never saw EOF"
        for c in idle:
            c.close()
        s.close()
        assert got["n"] == SIZE, "destination got %d of %d bytes" % (got["n"], SIZE)
        assert got["sha"].hexdigest() == sgtest.sha256(data), "data corrupted"
        rec = d.wait_log(r"session \d+ .*cmd=connect.*")
        sgtest.log(rec[0])
        assert " up=%d " % SIZE in rec[0], rec


sgtest.main(test)
