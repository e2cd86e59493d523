#!/usr/bin/python3
"""sd_notify: with NOTIFY_SOCKET and WATCHDOG_USEC set, the daemon sends
READY=1 once it serves, STATUS= with the live counts (sessions, failed
logins, bytes), WATCHDOG=1 about every half watchdog interval,
RELOADING=1 with MONOTONIC_USEC= and then READY=1 around SIGHUP (also when
the new config is invalid), and STOPPING=1 on SIGTERM."""
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

import sgtest


class Notifications:
    """Collects (monotonic time, message) from an AF_UNIX datagram socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.msgs.append((time.monotonic(), data.decode()))

    def all(self):
        with self.lock:
            return list(self.msgs)

    def wait(self, pattern, after=0, timeout=10):
        """Waits for a message matching pattern received at or after index
        after; returns (index, time, message, match)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.all()
            for i in range(after, len(msgs)):
                m = re.search(pattern, msgs[i][1], re.M)
                if m:
                    return i, msgs[i][0], msgs[i][1], m
            if time.monotonic() > deadline:
                raise AssertionError("no notification matched %r; got:\n%s" % (
                    pattern, "\n".join(repr(m) for _, m in msgs[after:])))
            time.sleep(0.02)

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


def session(d, echo, user, password, data):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user=user, password=password)
    assert rep == 0, rep
    s.sendall(data)
    assert sgtest.recv_exact(s, len(data)) == data
    return s


def test():
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    with sgtest.echo_server() as echo:
        tmp = tempfile.mkdtemp(prefix="socksgate-notify-")
        path = os.path.join(tmp, "notify")
        n = Notifications(path)
        env.update({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        try:
            with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0"],
                               env=env) as d:
                i, _, msg, _ = n.wait(r"^READY=1$")
                # READY=1 means serving: a client gets through at once.
                for _ in range(3):
                    session(d, echo, "alice", "secret", b"hello").close()
                s = sgtest.connect_proxy(d)
                assert sgtest.greet(s, b"\x02") == 2
                assert sgtest.userpass(s, "alice", "wrong")[1] != 0
                s.close()
                live = session(d, echo, "alice", "secret", b"still here")
                # 5 sessions, 1 live, 1 failed login, 3 logins after the first
                # from the credential cache; 3 finished sessions of 5 bytes each
                # way and the live one's 10 so far: bytes count as they move.
                _, _, msg, _ = n.wait(r"^STATUS=1 active session, 5 since start, "
                                      r"1 authentication failure, 3 logins from the credential "
                                      r"cache, 25 B up, 25 B down$",
                                      after=i, timeout=8)
                sgtest.log("status: %r" % msg)

                # Watchdog pings: about every 0.5 s.
                t0 = time.monotonic()
                time.sleep(3.2)
                pings = [t for t, m in n.all() if t >= t0 and re.search(r"^WATCHDOG=1$", m, re.M)]
                gaps = [b - a for a, b in zip(pings, pings[1:])]
                sgtest.log("%d pings in 3.2 s, gaps %s" % (len(pings), ["%.2f" % g for g in gaps]))
                assert 4 <= len(pings) <= 9, pings
                assert all(0.3 <= g <= 0.9 for g in gaps), gaps

                # SIGHUP: RELOADING=1 with the monotonic clock, then READY=1.
                before = len(n.all())
                t_sig = time.clock_gettime(time.CLOCK_MONOTONIC)
                d.signal(signal.SIGHUP)
                j, _, msg, m = n.wait(r"^RELOADING=1$", after=before)
                usec = int(re.search(r"^MONOTONIC_USEC=(\d+)$", msg, re.M).group(1))
                assert t_sig * 1e6 - 1e5 <= usec <= t_sig * 1e6 + 5e6, (usec, t_sig)
                n.wait(r"^READY=1$", after=j + 1)
                d.wait_log(r"configuration reloaded")

                # An invalid config: still RELOADING=1 then READY=1, old config kept.
                with open(d.conf, "a") as f:
                    f.write("workers_min = many\n")
                before = len(n.all())
                d.signal(signal.SIGHUP)
                j, _, _, _ = n.wait(r"^RELOADING=1$", after=before)
                n.wait(r"^READY=1$", after=j + 1)
                d.wait_log(r"reload failed with 1 error")
                d.wait_log(r"socksgate\.conf:\d+: workers_min: 'many' is not a number")
                session(d, echo, "alice", "secret", b"old config").close()

                # The live session went through both reloads untouched.
                live.sendall(b"after")
                assert sgtest.recv_exact(live, 5) == b"after"
                live.close()

                before = len(n.all())
                d.signal(signal.SIGTERM)
                n.wait(r"^STOPPING=1$", after=before)
                assert d.proc.wait(15) == 0
        finally:
            n.close()
            shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
