#!/usr/bin/python3
"""An idle relayed session holds two descriptors (its client's and its
destination's socket) and no pipe; a direction that streams takes a pipe for
splice() while it moves data and gives it back about a second after it went
empty. 40 idle sessions add exactly 80 descriptors (/proc/PID/fd); a slow
8 MiB download shows a pipe while it runs and none once it is done; bursts
both ways with pauses longer than the release time (so pipes are taken and
given back again and again) arrive whole (sha256); at the end the daemon is
back at its descriptors from before the sessions."""
import os
import threading
import time

import sgtest

IDLE = 40
RELEASE_S = 1.0	# RELAY_RELEASE_MS


def fds(pid):
    """(all descriptors, pipes) of pid."""
    names = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            names.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return len(names), sum(1 for n in names if n.startswith("pipe:"))


def wait_fds(pid, want, want_pipes=None, timeout=10):
    deadline = time.monotonic() + timeout
    got = fds(pid)
    while time.monotonic() < deadline:
        got = fds(pid)
        if got[0] == want and (want_pipes is None or got[1] == want_pipes):
            return got
        time.sleep(0.05)
    return got


def slow_download(d, size):
    """A slowly read download through d; returns (pipes seen, data ok)."""
    return sgtest.slow_download(d, size, lambda: fds(d.proc.pid)[1])


def bursts(d, echo_port, rounds=3, size=1 << 20):
    """Bursts through one session to an echo server, each followed by a
    pause past the release time; returns whether every byte came back."""
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo_port)
    assert rep == 0, "reply 0x%02x" % rep
    ok = True
    with s:
        s.settimeout(30)
        for i in range(rounds):
            data = os.urandom(size + i * 4099)
            t = threading.Thread(target=s.sendall, args=(data,))
            t.start()
            got = sgtest.recv_exact(s, len(data), timeout=30)
            t.join(30)
            ok = ok and got == data
            # Gone quiet: the pipes go back, the session holds its sockets.
            time.sleep(RELEASE_S + 0.5)
            n, pipes = fds(d.proc.pid)
            sgtest.log("after burst %d: %d descriptors, %d pipes" % (i, n, pipes))
            assert pipes == 0, "round %d: %d pipes still held after a quiet spell" % (i, pipes)
    return ok


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        pid = d.proc.pid
        time.sleep(0.3)
        base, base_pipes = fds(pid)
        assert base_pipes == 0, "pipes before any session"
        idle = []
        for _ in range(IDLE):
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
            assert rep == 0
            s.sendall(b"x")
            assert sgtest.recv_exact(s, 1) == b"x"
            idle.append(s)
        n, pipes = wait_fds(pid, base + 2 * IDLE, 0)
        sgtest.log("%d idle sessions: %d descriptors (%d before), %d pipes" % (
            IDLE, n, base, pipes))
        assert n == base + 2 * IDLE and pipes == 0, \
            "%d idle sessions hold %d descriptors and %d pipes (want %d, 0)" % (
                IDLE, n - base, pipes, 2 * IDLE)

        seen, ok = slow_download(d, 8 << 20)
        sgtest.log("slow 8 MiB download: up to %d pipe descriptors seen" % seen)
        assert ok, "the download arrived damaged or short"
        assert seen >= 2, "no pipe while 8 MiB streamed (splice mode never started)"
        n, pipes = wait_fds(pid, base + 2 * IDLE, 0, timeout=5)
        assert pipes == 0, "%d pipe descriptors left after the download" % pipes

        assert bursts(d, echo.port), "a burst came back damaged"
        # Still exactly two per idle session: nothing leaked across cycles.
        n, pipes = wait_fds(pid, base + 2 * IDLE, 0)
        assert (n, pipes) == (base + 2 * IDLE, 0), "%d descriptors, %d pipes" % (n, pipes)
        for s in idle:
            s.close()
        n, pipes = wait_fds(pid, base, 0)
        assert n == base, "%d descriptors after the sessions ended, %d before" % (n, base)


sgtest.main(test)
