"""Helpers for the scale-out tests: PROXY protocol headers as a load balancer
writes them (v1 text, v2 binary), a real HAProxy in front of socksgate
instances on loopback (its own config, in the foreground, stopped by its
PID), an HTTP target and curl clients bound to chosen loopback sources.
Every wait is bounded."""

import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import sgtest

HAPROXY = "/usr/sbin/haproxy"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, sport, dst, dport, tlvs=b""):
    """A v2 PROXY command for TCP over IPv4 or IPv6, with optional TLV bytes."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 0x11 if s.version == 4 else 0x21
    body = s.packed + d.packed + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def v2_local():
    """What a balancer's health check sends: v2 LOCAL, no addresses."""
    return V2_SIG + b"\x20\x00\x00\x00"


def v1_unknown():
    return b"PROXY UNKNOWN\r\n"


def balancer_socket(d, source="127.0.0.1", timeout=10):
    """A connection to the daemon from source, as the balancer makes it."""
    return sgtest.connect_proxy(d, timeout, source)


def proxy_daemon(config=(), env=None, trusted="127.0.0.1/32", extra_listen=(), **kw):
    """A Daemon whose listener expects the PROXY header from trusted;
    rewrite() keeps its listen and proxy_from lines."""
    port = sgtest.free_port()
    head = ["listen = 127.0.0.1:%d proxy" % port] + ["listen = %s" % a for a in extra_listen]
    head.append("proxy_from = %s" % trusted)
    d = sgtest.Daemon(head + list(config), env=env, listen=False, port=port, **kw)
    d.head = d.head + head
    return d


def http_handler(c):
    """Answers one HTTP request with a small body naming nothing but itself."""
    c.settimeout(10)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return
        buf += d
    body = b"hello from the target\n"
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def http_server():
    return sgtest.Server(http_handler)


def curl(proxy_port, url, source=None, user=None, password=None, timeout=10):
    """curl through a SOCKS5 proxy at 127.0.0.1:proxy_port (the name resolved
    by the proxy), from the loopback address source. Returns (rc, body)."""
    cred = "%s:%s@" % (user, password) if user is not None else ""
    cmd = [shutil.which("curl") or "curl", "-sS", "--max-time", str(timeout),
           "-x", "socks5h://%s127.0.0.1:%d" % (cred, proxy_port), url]
    if source is not None:
        cmd[1:1] = ["--interface", source]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    return r.returncode, r.stdout


def require_haproxy():
    if not os.access(HAPROXY, os.X_OK):
        sgtest.skip("HAProxy is not installed (%s; Debian package haproxy)" % HAPROXY)
    if not shutil.which("curl"):
        sgtest.skip("curl is not installed")


class HAProxy:
    """haproxy -db -f CFG in the foreground: one TCP frontend on a free
    loopback port, a leastconn backend of servers [(name, port)] with
    send-proxy-v2 and check-send-proxy health checks, and a stats socket to
    wait on their state."""

    def __init__(self, servers, inter_ms=200, extra=()):
        self.dir = tempfile.mkdtemp(prefix="socksgate-haproxy-")
        self.port = sgtest.free_port()
        self.stats = os.path.join(self.dir, "stats.sock")
        lines = [
            "global",
            "    log stderr format short local0 info",
            "    stats socket %s mode 600 level admin" % self.stats,
            "defaults",
            "    mode tcp",
            "    log global",
            "    option tcplog",
            "    timeout connect 1s",
            "    timeout client 30s",
            "    timeout server 30s",
            # A connection an instance refuses (it stopped listening) is
            # tried again on another one.
            "    retries 3",
            "    option redispatch 1",
            "frontend socks",
            "    bind 127.0.0.1:%d" % self.port,
            "    default_backend gateways",
            "backend gateways",
            "    balance leastconn",
            "    default-server check inter %dms fall 1 rise 1 send-proxy-v2 check-send-proxy"
            % inter_ms,
        ] + ["    " + e for e in extra]
        lines += ["    server %s 127.0.0.1:%d" % (name, port) for name, port in servers]
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.logpath = os.path.join(self.dir, "haproxy.log")
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        try:
            self.wait_state({name: True for name, _ in servers})
        except BaseException:
            self.close()
            raise

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def command(self, cmd):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.stats)
            s.sendall(cmd.encode() + b"\n")
            return sgtest.recv_all(s, 5).decode(errors="replace")

    def states(self):
        """{server: True when HAProxy has it UP}."""
        out = {}
        for line in self.command("show servers state gateways").splitlines():
            f = line.split()
            if len(f) > 5 and f[0].isdigit() and f[1] == "gateways":
                out[f[3]] = f[5] == "2"
        return out

    def wait_state(self, want, timeout=15):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                got = self.states()
                if all(got.get(k) == v for k, v in want.items()):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("HAProxy servers %r, wanted %r:\n%s" % (got, want, self.log()))

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *a):
        if exc_type is not None:
            import sys
            sys.stderr.write("--- haproxy log ---\n" + self.log())
        self.close()
        return False


def clients_of(d):
    """The client host of each session record of d, in session order (the
    records are written as sessions end, in any order)."""
    return [re.sub(r":\d+$", "", r["client"])
            for r in sorted(d.sessions(), key=lambda r: r["id"])]


def wait_records(daemons, n, timeout=10):
    """Waits until the daemons have written n session records in all (a
    record follows the client's last byte); returns the records of each."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [d.sessions() for d in daemons]
        if sum(len(r) for r in recs) >= n:
            return recs
        if time.monotonic() > deadline:
            raise AssertionError("%d session records, expected %d:\n%s" % (
                sum(len(r) for r in recs), n, "\n".join(d.log() for d in daemons)))
        time.sleep(0.02)
