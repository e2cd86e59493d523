"""Helpers for the tests of the way out (Happy Eyeballs, egress address,
embedded-IPv4 policy): a network namespace of the test's own, so that no
packet leaves the machine, a private /etc/hosts for a test name, and
listeners whose accept backlog is full, so that a connect to them hangs."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import sgtest

_INNER = "_SOCKSGATE_TEST_NETNS"


def isolate():
    """Re-runs this test inside new network and mount namespaces (unshare -n
    -m) with lo up; returns there. Skips (77) without root or where unshare
    cannot make them. The namespaces go away with the test's process: the
    machine's network and its /etc/hosts are never touched."""
    if os.environ.get(_INNER) == "1":
        r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True)
        sgtest.check(r.returncode == 0, "ip link set lo up: %s" % r.stderr)
        return
    sgtest.require_root("a network namespace of the test's own needs root")
    unshare = sgtest.require_tool("unshare")
    sgtest.require_tool("ip")
    probe = subprocess.run([unshare, "-n", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        sgtest.skip("unshare -n -m is not possible here: %s" % probe.stderr.strip())
    env = dict(os.environ)
    env[_INNER] = "1"
    sys.stdout.flush()
    r = subprocess.run([unshare, "-n", "-m", "--", sys.executable, os.path.abspath(sys.argv[0])]
                       + sys.argv[1:], env=env)
    sys.exit(r.returncode)


@contextlib.contextmanager
def hosts(lines):
    """/etc/hosts as it is plus lines ("ADDR NAME"), seen only inside this
    test's mount namespace (a bind mount over it, undone on the way out even
    on failure); the real file is never written."""
    sgtest.check(os.environ.get(_INNER) == "1", "hosts() outside isolate()")
    d = tempfile.mkdtemp(prefix="socksgate-hosts-")
    path = os.path.join(d, "hosts")
    with open("/etc/hosts") as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text + ("" if text.endswith("\n") else "\n") + "\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    r = subprocess.run(["mount", "--bind", path, "/etc/hosts"], capture_output=True, text=True)
    sgtest.check(r.returncode == 0, "mount --bind over /etc/hosts: %s" % r.stderr)
    try:
        yield
    finally:
        subprocess.run(["umount", "/etc/hosts"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


class DeadListener:
    """A listener on host:port with listen(1) that never accepts, its
    backlog filled with connections: the kernel drops further SYNs, so a
    connect to it hangs (an address that does not answer)."""

    def __init__(self, host, port):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(1)
        self.fill = []
        for _ in range(16):
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect((host, port))
            except BlockingIOError:
                pass
            self.fill.append(c)
            if not _connects(c, 0.2):
                break  # this one's SYN was dropped: the backlog is full
        else:
            raise AssertionError("the backlog of %s:%d never filled" % (host, port))

    def close(self):
        for c in self.fill:
            c.close()
        self.sock.close()


def _connects(c, timeout):
    import select
    _, w, _ = select.select([], [c], [], timeout)
    return bool(w) and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


@contextlib.contextmanager
def dead(hosts_, port):
    """DeadListeners on each of hosts_ at port."""
    ls = []
    try:
        for h in hosts_:
            ls.append(DeadListener(h, port))
        yield ls
    finally:
        for l in ls:
            l.close()


def peer_server(host, port=0, own=False):
    """A server that writes the address it sees its client connect from (with
    own: the address the client reached), then a newline."""
    def handler(c):
        c.sendall(((c.getsockname() if own else c.getpeername())[0] + "\n").encode())
        c.recv(1)
    return sgtest.Server(handler, host, port)


def timed_request(d, host, port, **kw):
    """socks_request; returns (sock, rep, seconds from sending the request to
    the reply)."""
    s = sgtest.connect_proxy(d)
    m = sgtest.greet(s)
    sgtest.check(m == 0, "method %r" % m)
    t0 = time.monotonic()
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr(host, port))
    rep, _, _ = sgtest.read_reply(s, kw.get("timeout", 20))
    return s, rep, time.monotonic() - t0
