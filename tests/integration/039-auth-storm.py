#!/usr/bin/python3
"""A login storm, as root against real accounts (issue 11): 20 accounts with
the system's default hash (yescrypt on Debian 12), 400 connections opened at
once and spread over them, each logging in with RFC 1929 through the real
pam_unix stack (the project's pam.d/socksgate). Every login must succeed
within handshake_timeout (20 s), with none timed out, and the daemon's peak
RSS (VmHWM) must stay under 300 MB: PAM is bounded (auth_max_parallel) and
a cache with single-flight runs one check per distinct credential, instead
of 400 yescrypt checks of ~16 MiB each at once. The accounts and the
service file are removed afterwards."""
import os
import selectors
import socket
import time

import sgauth
import sgtest

N_USERS = 20
N_CONN = 400
HANDSHAKE_TIMEOUT = 20
RSS_LIMIT_MB = 300


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


class Client:
    """One login, driven by the selector loop: greeting, then credentials."""

    def __init__(self, d, user, password):
        self.user = user
        self.creds = (bytes([1, len(user)]) + user.encode() + bytes([len(password)]) +
                      password.encode())
        self.state = "connecting"
        self.buf = b""
        self.result = None
        self.took = None
        self.t0 = time.monotonic()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.connect_ex((d.host, d.port))

    def finish(self, sel, result):
        self.result = result
        self.took = time.monotonic() - self.t0
        sel.unregister(self.sock)
        self.sock.close()

    def step(self, sel):
        """Advances on readiness; returns True when finished."""
        try:
            if self.state == "connecting":
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.finish(sel, "connect: " + os.strerror(err))
                    return True
                self.sock.send(b"\x05\x01\x02")
                self.state = "method"
                sel.modify(self.sock, selectors.EVENT_READ, self)
                return False
            data = self.sock.recv(64)
        except BlockingIOError:
            return False
        except OSError as e:
            self.finish(sel, "%s: %s" % (self.state, e))
            return True
        if not data:
            self.finish(sel, "closed by the server waiting for the " + self.state)
            return True
        self.buf += data
        if len(self.buf) < 2:
            return False
        reply, self.buf = self.buf[:2], self.buf[2:]
        if self.state == "method":
            if reply != b"\x05\x02":
                self.finish(sel, "method reply %r" % reply)
                return True
            self.sock.send(self.creds)
            self.state = "login reply"
            return False
        self.finish(sel, reply[1] if reply[0] == 1 else "login reply %r" % reply)
        return True


def storm(d, users):
    names = sorted(users)
    sel = selectors.DefaultSelector()
    clients = []
    t0 = time.monotonic()
    for i in range(N_CONN):
        u = names[i % len(names)]
        c = Client(d, u, users[u])
        clients.append(c)
        sel.register(c.sock, selectors.EVENT_WRITE, c)
    left = N_CONN
    deadline = t0 + HANDSHAKE_TIMEOUT + 10
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            if key.data.step(sel):
                left -= 1
    elapsed = time.monotonic() - t0
    for c in clients:
        if c.result is None:
            c.finish(sel, "no answer from the server in %d s" % (HANDSHAKE_TIMEOUT + 10))
    sel.close()
    return clients, elapsed


def test():
    sgtest.require_root("real accounts and /etc/pam.d need root")
    service = sgauth.project_pam_service()
    tag = os.getpid() % 100000
    users = {"sgst%05d%02d" % (tag, i): "St0rm-%02d-%s" % (i, os.urandom(4).hex())
             for i in range(N_USERS)}
    t_start = time.monotonic()
    with sgauth.SystemAccounts(users) as accounts:
        methods = {accounts.hash_method(u) for u in users}
        sgtest.log("hash methods of the accounts: %s (made in %.1f s)" % (
            sorted(methods), time.monotonic() - t_start))
        if methods != {"$y$"}:
            sgtest.skip("chpasswd does not hash with yescrypt here: %s" % sorted(methods))
        conf = ["auth = pam", "pam_service = " + service, "auth_fail_limit = 0",
                "handshake_timeout = %ds" % HANDSHAKE_TIMEOUT]
        with sgtest.Daemon(conf) as d:
            clients, elapsed = storm(d, users)
            hwm_mb = vm_hwm_kb(d.proc.pid) / 1024
            ok = [c for c in clients if c.result == 0]
            bad = [c for c in clients if c.result != 0]
            times = sorted(c.took for c in ok)
            sgtest.log("%d of %d logins in %.2f s (%.0f/s), p50 %.2f s, p99 %.2f s; "
                       "daemon peak RSS %.0f MB" % (
                           len(ok), N_CONN, elapsed, len(ok) / elapsed,
                           times[len(times) // 2] if times else -1,
                           times[int(len(times) * 0.99)] if times else -1, hwm_mb))
            why = {}
            for c in bad:
                why[str(c.result)] = why.get(str(c.result), 0) + 1
            sgtest.check(not bad, "%d of %d logins failed: %r" % (len(bad), N_CONN, why))
            sgtest.check(times[-1] <= HANDSHAKE_TIMEOUT + 1, "a login took %.1f s, longer than "
                         "handshake_timeout (%d s)" % (times[-1], HANDSHAKE_TIMEOUT))
            sgtest.check(hwm_mb < RSS_LIMIT_MB, "the daemon's peak RSS was %.0f MB under a "
                         "%d-client storm (limit %d MB)" % (hwm_mb, N_CONN, RSS_LIMIT_MB))
    sgtest.log("test took %.1f s" % (time.monotonic() - t_start))


sgtest.main(test)
