#!/usr/bin/python3
"""Out of descriptors: with RLIMIT_NOFILE at 64, sessions and waiting
connections use up the daemon's descriptors. It logs a rate-limited accept
warning, does not spin (little CPU time over 2 s while exhausted), keeps the
live sessions relaying, and serves new clients once descriptors are free."""
import os
import sys
import time

import sgtest

NOFILE = 64
SESSIONS = 4
FLOOD = 80

# Lowers soft and hard limits (the daemon raises soft to hard), then execs.
SETLIMIT = ("import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
            "os.execv(sys.argv[1], sys.argv[1:])" % (NOFILE, NOFILE))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15; fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def round_trip(s, data):
    s.sendall(data)
    assert sgtest.recv_exact(s, len(data), timeout=5) == data


def test():
    # The default sizing keeps queue and workers within the limit (024); an
    # operator's workers_max far beyond it lets a flood reach EMFILE.
    conf = ["auth = none", "workers_min = 1", "workers_max = 200",
            "handshake_timeout = 30s"]
    with sgtest.echo_server() as echo, \
            sgtest.Daemon(conf, cmd_prefix=[sys.executable, "-c", SETLIMIT]) as d:
        pid = d.proc.pid
        d.wait_log(r"descriptor limit %d\b" % NOFILE, timeout=2)

        sessions = []
        flood = []
        try:
            for i in range(SESSIONS):
                s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
                assert rep == 0, rep
                round_trip(s, b"session %d" % i)
                sessions.append(s)
            # Each takes a worker and a descriptor until there are none
            # left; the rest stay in the backlog.
            for _ in range(FLOOD):
                flood.append(sgtest.connect_proxy(d))
            d.wait_log(r"accept: .*pausing new connections", timeout=5)
            used = open_fds(pid)
            sgtest.log("daemon holds %d descriptors of %d" % (used, NOFILE))
            assert used >= NOFILE - 1, used

            # Exhausted for 2 s: the acceptor must wait, not spin.
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(2)
            cpu = cpu_seconds(pid) - cpu0
            wall = time.monotonic() - t0
            sgtest.log("CPU %.3f s over %.2f s while out of descriptors" % (cpu, wall))
            assert cpu < 0.3 * wall, "daemon busy while out of descriptors: %.2f s CPU" % cpu
            warnings = d.wait_log(r"accept: .*pausing new connections", timeout=1)
            assert len(warnings) <= 2, "accept warning not rate-limited: %d lines" % len(
                warnings)

            # Live sessions are unaffected.
            for i, s in enumerate(sessions):
                round_trip(s, b"still relaying %d" % i)
        finally:
            for c in flood + sessions:
                c.close()

        # Descriptors come back: a new client is served.
        deadline = time.monotonic() + 10
        while True:
            try:
                s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, timeout=5)
                break
            except (AssertionError, OSError) as e:
                if time.monotonic() > deadline:
                    raise AssertionError("no recovery: %s\n%s" % (e, d.log()))
                time.sleep(0.2)
        with s:
            assert rep == 0, rep
            round_trip(s, b"recovered")
        sgtest.log("daemon holds %d descriptors after recovery" % open_fds(pid))
        assert d.proc.poll() is None, d.log()


sgtest.main(test)
