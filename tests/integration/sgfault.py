"""Fault injection for the 12N tests: the daemon with tests/faultinject.so
preloaded (SG_FAULT names the calls and rates), a baseline of its
descriptors and threads taken after a warm-up, clients of every kind (CONNECT
by address and by name, BIND, UDP ASSOCIATE, good and bad logins) run while
the faults are armed, then the checks: every client got a reply or a clean
close within a bounded time and no data was corrupted, no descriptor or
thread is left once the sessions end, the faults really happened, and a
normal client of every kind is served afterwards. The sanitizer check is
Daemon.stop()'s."""
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import sgcmds
import sgtest

SHIM = os.environ.get("SG_FAULTINJECT", "")
USER, PASSWORD = "fault", "Fault-Pass-7"
# A client waits this long for any one answer; the daemon's own timeouts are
# set longer, so a session the daemon forgot shows up as a hang here.
CLIENT_TIMEOUT = 8
KINDS = ("connect", "connect_name", "bind", "udp", "login_bad", "denied")
DENIED = "192.0.2.0"
WANT = {"login_bad": "auth1", "denied": "rep2"}  # others: "ok"


class Closed(Exception):
    """The daemon closed the connection (EOF or reset): a clean ending."""


def _recv_exact(s, n):
    s.settimeout(CLIENT_TIMEOUT)
    buf = bytearray()
    try:
        while len(buf) < n:
            d = s.recv(n - len(buf))
            if not d:
                raise Closed()
            buf += d
    except (ConnectionResetError, BrokenPipeError):
        raise Closed()
    return bytes(buf)


def _send(s, data):
    try:
        s.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        raise Closed()


def _login(d, password=PASSWORD):
    """Greets and logs in; returns the socket, or raises Closed / returns the
    failed status as an int."""
    s = socket.create_connection((d.host, d.port), timeout=CLIENT_TIMEOUT)
    try:
        _send(s, b"\x05\x01\x02")
        m = _recv_exact(s, 2)
        if m[1] != 2:
            s.close()
            return "method%d" % m[1]
        u, p = USER.encode(), password.encode()
        _send(s, bytes([1, len(u)]) + u + bytes([len(p)]) + p)
        r = _recv_exact(s, 2)
        if r[1] != 0:
            # After a failed login the server must close.
            try:
                _recv_exact(s, 1)
                raise AssertionError("data after a failed login")
            except Closed:
                pass
            s.close()
            return "auth%d" % r[1]
        return s
    except BaseException:
        s.close()
        raise


def _request(s, cmd, host, port):
    _send(s, b"\x05" + bytes([cmd]) + b"\x00" + sgtest.encode_addr(host, port))
    return _reply(s)


def _reply(s):
    """A command reply: (rep, bound host, bound port)."""
    head = _recv_exact(s, 4)
    assert head[0] == 5 and head[2] == 0, "bad reply %r" % head
    n = {1: 4, 4: 16}.get(head[3])
    assert n is not None, "reply ATYP %r" % head[3]
    a = _recv_exact(s, n + 2)
    host = socket.inet_ntop(socket.AF_INET if n == 4 else socket.AF_INET6, a[:n])
    return head[1], host, int.from_bytes(a[n:], "big")


def _echo(s, size):
    data = os.urandom(size)
    _send(s, data)
    got = _recv_exact(s, size)
    assert got == data, "relayed data corrupted (%d bytes)" % size


class Run:
    """One daemon under SG_FAULT=spec; see the module's docstring."""

    def __init__(self, spec, seed=1, conf=()):
        if not SHIM or not os.path.exists(SHIM):
            raise RuntimeError("SG_FAULTINJECT does not name the built shim: %r" % SHIM)
        self.spec = spec
        self.seed = seed
        self.extra = list(conf)
        self.outcomes = {}

    def __enter__(self):
        self.echo = sgtest.echo_server().__enter__()
        self.uecho = sgcmds.UdpEcho()
        env = sgtest.pam_wrapper_env({USER: PASSWORD})
        self.fdir = tempfile.mkdtemp(prefix="socksgate-fault-")
        self.arm_path = os.path.join(self.fdir, "arm")
        self.log_path = os.path.join(self.fdir, "faults.log")
        preload = [SHIM] + ([env.pop("LD_PRELOAD")] if "LD_PRELOAD" in env else [])
        asan = env.get("ASAN_OPTIONS", "detect_leaks=1")
        env.update({
            "LD_PRELOAD": " ".join(preload),
            "SG_FAULT": self.spec,
            "SG_FAULT_SEED": str(self.seed),
            "SG_FAULT_ARM": self.arm_path,
            "SG_FAULT_LOG": self.log_path,
            # The shim comes before a sanitizer runtime, which then must not
            # insist on being first; it still sees every allocation.
            "ASAN_OPTIONS": asan + ":verify_asan_link_order=0",
        })
        conf = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0",
                "auth_cache_ttl = 0", "workers_min = 2", "handshake_timeout = 60s",
                "connect_timeout = 60s", "bind_timeout = 60s",
                # A reload under faults must keep this rule or be refused.
                "deny to %s/24" % DENIED] + self.extra
        self.d = sgtest.Daemon(conf, env=env).__enter__()
        return self

    def __exit__(self, *exc):
        self.disarm()
        try:
            self.d.__exit__(*exc)
        finally:
            self.uecho.close()
            self.echo.__exit__(*exc)
            shutil.rmtree(self.fdir, ignore_errors=True)
        return False

    # ---- faults ----

    def arm(self):
        open(self.arm_path, "w").close()
        time.sleep(0.05)  # the shim looks every 10 ms

    def disarm(self):
        if os.path.exists(self.arm_path):
            os.unlink(self.arm_path)
            time.sleep(0.05)

    def injected(self):
        """{call name: faults injected so far}."""
        counts = {}
        if os.path.exists(self.log_path):
            with open(self.log_path) as f:
                for line in f:
                    counts[line.strip()] = counts.get(line.strip(), 0) + 1
        return counts

    # ---- clients ----

    def client(self, kind):
        """One client of kind; returns its outcome ("ok", "rep5", "closed"...).
        A hang (no answer within CLIENT_TIMEOUT) raises."""
        try:
            return self._client(kind)
        except Closed:
            return "closed"
        except socket.timeout:
            raise AssertionError("%s client: no answer in %d s (a hang) under %s" % (
                kind, CLIENT_TIMEOUT, self.spec))

    def _client(self, kind):
        s = _login(self.d, "wrong" if kind == "login_bad" else PASSWORD)
        if isinstance(s, str):
            return s
        with s:
            if kind == "login_bad":
                raise AssertionError("a wrong password logged in")
            if kind == "denied":
                rep, _, _ = _request(s, 1, DENIED[:-1] + "1", 9)
                assert rep != 0, "a CONNECT the rules deny was let through"
                return "rep%d" % rep
            if kind in ("connect", "connect_name"):
                host = "127.0.0.1" if kind == "connect" else "localhost"
                rep, _, _ = _request(s, 1, host, self.echo.port)
                if rep != 0:
                    return "rep%d" % rep
                _echo(s, 100)
                _echo(s, 300000)
                return "ok"
            if kind == "bind":
                return self._bind(s)
            return self._udp(s)

    def _bind(self, s):
        rep, host, port = _request(s, 2, "127.0.0.1", 0)
        if rep != 0:
            return "rep%d" % rep
        try:
            peer = socket.create_connection((host, port), timeout=CLIENT_TIMEOUT)
        except (ConnectionRefusedError, ConnectionResetError):
            # The daemon gave up on its listener (accept4 failed, say): the
            # client must then get a failure reply or a close (Closed).
            rep, _, _ = _reply(s)
            assert rep != 0, "BIND succeeded though its peer was refused"
            return "peer-refused-rep%d" % rep
        with peer:
            rep, _, _ = _reply(s)
            if rep != 0:
                return "rep2nd%d" % rep
            data = os.urandom(200000)
            _send(s, data)
            try:
                got = _recv_exact(peer, len(data))
            except Closed:
                return "closed"
            assert got == data, "BIND data corrupted"
            _send(peer, b"back")
            assert _recv_exact(s, 4) == b"back", "BIND data corrupted"
        return "ok"

    def _udp(self, s):
        rep, host, port = _request(s, 3, "0.0.0.0", 0)
        if rep != 0:
            return "rep%d" % rep
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            payload = os.urandom(500)
            for _ in range(3):  # datagrams may be lost; the session must not be
                u.sendto(sgcmds.udp_header("127.0.0.1", self.uecho.port) + payload,
                         (host, port))
                got = sgcmds.recv_dgram(u, 1)
                if got is not None:
                    _, _, body = sgcmds.parse_udp(got[0])
                    assert body == payload, "UDP payload corrupted"
                    return "ok"
            return "udp-lost"

    def workload(self, kinds=KINDS, rounds=10, parallel=6):
        """rounds clients of each kind, parallel at a time, while reloads
        (SIGHUP) and socksgatectl status run beside them; tallies outcomes."""
        jobs = [k for _ in range(rounds) for k in kinds]
        done = threading.Event()
        self.poke_error = None
        poker = threading.Thread(target=self._poke, args=(done,))
        poker.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
                for kind, out in zip(jobs, ex.map(self.client, jobs)):
                    key = "%s:%s" % (kind, out)
                    self.outcomes[key] = self.outcomes.get(key, 0) + 1
        finally:
            done.set()
            poker.join()
        assert self.poke_error is None, self.poke_error
        return self.outcomes

    def _poke(self, done):
        """Reloads and status requests under the faults: each is answered
        or refused within its timeout (a hang raises in ctl)."""
        try:
            while not done.wait(0.3):
                self.d.signal(signal.SIGHUP)
                subprocess.run([sgtest.SOCKSGATECTL, "--socket", self.d.control, "status"],
                               capture_output=True, timeout=CLIENT_TIMEOUT + 2,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.poke_error = "socksgatectl status hung under %s" % self.spec

    # ---- what is left ----

    def fds(self):
        base = "/proc/%d/fd" % self.d.proc.pid
        out = {}
        for n in os.listdir(base):
            try:
                out[int(n)] = os.readlink(os.path.join(base, n))
            except OSError:
                pass
        return out

    def tasks(self):
        return len(os.listdir("/proc/%d/task" % self.d.proc.pid))

    def status(self):
        return self.d.ctl_json("status")

    def quiet(self, timeout=30):
        """Waits until no session is active; returns the status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if st["sessions"]["active"] == 0 and st["workers"]["busy"] == 0 and \
                    st["queue"]["waiting"] == 0:
                return st
            if time.monotonic() > deadline:
                raise AssertionError("sessions still active %d s after the clients: %r" % (
                    timeout, st))
            time.sleep(0.1)

    def baseline(self):
        """After one client of each kind without faults (whatever the daemon
        opens lazily is then open): the descriptors and the threads that are
        not pool workers."""
        for kind in KINDS:
            out = self.client(kind)
            assert out == WANT.get(kind, "ok"), "without faults, %s gave %s" % (kind, out)
        st = self.quiet()
        self.base_fds = self.fds()
        self.base_other = self.tasks() - st["workers"]["threads"]

    def check_left(self):
        """No descriptor and no thread beyond the baseline (pool workers
        that have not yet retired are counted by the pool itself)."""
        st = self.quiet()
        deadline = time.monotonic() + 10
        while True:
            fds, other = self.fds(), self.tasks() - self.status()["workers"]["threads"]
            if fds == self.base_fds and other == self.base_other:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        extra = {k: v for k, v in fds.items() if self.base_fds.get(k) != v}
        gone = {k: v for k, v in self.base_fds.items() if fds.get(k) != v}
        assert fds == self.base_fds, "descriptors left behind: %r (baseline lost %r)" % (
            extra, gone)
        assert other == self.base_other, "threads: %d besides the pool, baseline %d (%r)" % (
            other, self.base_other, st)

    def check_served(self):
        for kind in KINDS:
            out = self.client(kind)
            assert out == WANT.get(kind, "ok"), "after the faults, %s gave %s" % (kind, out)


def scenario(spec, want, kinds=KINDS, rounds=8, seeds=(1, 2), conf=()):
    """The whole check for one SG_FAULT spec: want names the calls that must
    have failed at least once (so the test cannot pass without faults).
    SG_FAULT_SEEDS="3,4,5" runs other seeds (a longer hunt by hand)."""
    if os.environ.get("SG_FAULT_SEEDS"):
        seeds = [int(x) for x in os.environ["SG_FAULT_SEEDS"].split(",")]
    for seed in seeds:
        with Run(spec, seed, conf) as r:
            r.baseline()
            r.arm()
            r.workload(kinds, rounds)
            r.disarm()
            got = r.injected()
            sgtest.log("seed %d: faults %r; outcomes %r" % (seed, got, r.outcomes))
            for name in want:
                assert got.get(name, 0) > 0, "no %s fault was injected (%r)" % (name, got)
            r.check_left()
            r.check_served()
