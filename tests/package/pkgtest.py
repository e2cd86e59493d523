"""Helpers shared by the package tests (tests/package/test-*.py, run by .ci/run
on the built socksgate_*.deb, as root): the versions that must agree, a test
account, an HTTP target and a curl login through a SOCKS port. They build on
tests/integration/sgtest.py (PYTHONPATH), and every wait is bounded."""

import contextlib
import os
import re
import subprocess

import sgtest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
PASSWORD = "Pkg-t3st.word"
BODY = b"socksgate package test\n"

# The package's system user, as systemd/socksgate.sysusers describes it.
SYSUSER = "socksgate"
SYSUSER_GECOS = "socksgate SOCKS5 gateway"


def run(cmd, timeout=300, check=True, **kw):
    """Runs cmd, returns the CompletedProcess (text); raises with its output
    when check is true and it failed."""
    r = subprocess.run(cmd, timeout=timeout, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                      r.stderr))
    return r


def deb_argument(argv):
    """The .deb named on the command line, as an absolute path."""
    if len(argv) != 2 or not argv[1].endswith(".deb"):
        raise SystemExit("usage: %s PATH/socksgate_VERSION_ARCH.deb" % argv[0])
    path = os.path.abspath(argv[1])
    sgtest.check(os.path.isfile(path), "%s does not exist" % path)
    return path


def versions(deb):
    """{source: version} for configure.ac, NEWS, debian/changelog and the .deb."""
    with open(os.path.join(TOP, "configure.ac")) as f:
        m = re.search(r"m4_define\(\[socksgate_version\], \[([^]]+)\]\)", f.read())
    with open(os.path.join(TOP, "NEWS")) as f:
        n = re.search(r"^(\d+\.\d+\.\d+\S*) \(", f.read(), re.M)
    chlog = run(["dpkg-parsechangelog", "-l", os.path.join(TOP, "debian", "changelog"),
                 "-S", "Version"]).stdout.strip()
    return {"configure.ac": m and m.group(1), "NEWS": n and n.group(1),
            "debian/changelog": chlog,
            "the .deb": run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()}


def check_versions(deb):
    v = versions(deb)
    sgtest.log("versions: %r" % v)
    assert len(set(v.values())) == 1, "versions differ: %r" % v
    return v["configure.ac"]


@contextlib.contextmanager
def account(name, enter=()):
    """A system account with PASSWORD for the test (useradd + chpasswd),
    removed afterwards. enter: a command prefix that runs the tools
    elsewhere (nsenter into a container)."""
    enter = list(enter)
    run(enter + ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
    try:
        run(enter + ["chpasswd"], input="%s:%s\n" % (name, PASSWORD))
        yield name
    finally:
        run(enter + ["userdel", name], check=False)


def http_handler(c):
    """Answers one HTTP request with BODY."""
    c.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            return
        data += chunk
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
              % len(BODY) + BODY)


def http_server():
    return sgtest.Server(http_handler)


def curl(proxy_port, user, password, target_port, host="127.0.0.1", timeout=20):
    """curl through the SOCKS5 proxy on host:proxy_port to the HTTP target
    on 127.0.0.1:target_port; returns the CompletedProcess (bytes)."""
    proxy = "socks5h://%s:%s@%s:%d" % (user, password, host, proxy_port)
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--proxy", proxy,
                           "http://127.0.0.1:%d/" % target_port],
                          capture_output=True, timeout=timeout + 10)


def curl_ok(proxy_port, user, target_port, host="127.0.0.1"):
    r = curl(proxy_port, user, PASSWORD, target_port, host)
    assert r.returncode == 0 and r.stdout == BODY, "curl through port %d: exit %d, %r %r" % (
        proxy_port, r.returncode, r.stdout, r.stderr)
