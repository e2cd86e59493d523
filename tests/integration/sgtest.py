"""Helpers for socksgate integration tests: start the real daemon on a free
loopback port with a temporary config, local target servers, and a raw SOCKS5
client for the cases real clients cannot produce. Every wait is bounded."""

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SOCKSGATE = os.environ.get("SOCKSGATE", "")
SOCKSGATECTL = os.environ.get("SOCKSGATECTL", "")
TOP_SRCDIR = os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))

SKIP = 77

# The tests check with bare assert statements, which python3 -O and
# PYTHONOPTIMIZE strip: a failing test would print PASS. Refuse, as a failure.
if sys.flags.optimize or not __debug__:
    sys.stderr.write("sgtest: python3 runs optimised (-O or PYTHONOPTIMIZE), which drops the "
                     "tests' assert statements: run without it\n")
    sys.exit(1)


def check(ok, msg="check failed"):
    """assert for the harness's own helpers: raises AssertionError whatever
    the interpreter's flags."""
    if not ok:
        raise AssertionError(msg)


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        skip(name + " is not installed")
    return path


def require_root(why="this test needs root"):
    if os.geteuid() != 0:
        skip(why)


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log(*a):
    print(*a, flush=True)


# Not an environment variable for the daemon: pam_wrapper_env() passes the name
# of the PAM service it installed to Daemon through the env dict.
PAM_SERVICE_ENV = "_SOCKSGATE_TEST_PAM_SERVICE"


class Daemon:
    """socksgate in the foreground with a temporary config; stderr goes to a file.
    Its control socket is DIR/control (self.control) unless the config sets
    control_socket: parallel tests never share /run/socksgate/control."""

    # Test targets listen on loopback, which the built-in default policy
    # refuses; this rule goes last in every test config unless the test asks
    # for loopback_targets=False (to test rules or the default policy itself).
    LOOPBACK_RULE = "allow to 127.0.0.0/8,::1"

    def __init__(self, config=(), args=(), env=None, listen=True, port=None, host="127.0.0.1",
                 wait=True, cmd_prefix=(), loopback_targets=True):
        if not SOCKSGATE or not os.access(SOCKSGATE, os.X_OK):
            raise RuntimeError("SOCKSGATE does not name the built daemon: %r" % SOCKSGATE)
        self.dir = tempfile.mkdtemp(prefix="socksgate-test-")
        os.chmod(self.dir, 0o755)  # readable by a daemon that drops privileges
        self.host = host
        self.port = port if port is not None else free_port(
            socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        lines = []
        if listen:
            lines.append("listen = %s" % self.addr_str())
        env = dict(env or {})
        if PAM_SERVICE_ENV in env:  # a service pam_wrapper_env() installed
            lines.append("pam_service = %s" % env.pop(PAM_SERVICE_ENV))
        self.control = os.path.join(self.dir, "control")
        if not any(re.match(r"\s*control_socket\s*=", l) for l in config):
            lines.append("control_socket = %s" % self.control)
        self.head = list(lines)  # kept by rewrite()
        lines.extend(config)
        if loopback_targets:
            lines.append(self.LOOPBACK_RULE)
        self.conf = os.path.join(self.dir, "socksgate.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.logpath = os.path.join(self.dir, "stderr.log")
        self.logf = open(self.logpath, "w")
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if env:
            e.update(env)
        supp = "suppressions=" + os.path.join(TOP_SRCDIR, "tests", "tsan.supp")
        e["TSAN_OPTIONS"] = (e["TSAN_OPTIONS"] + ":" + supp) if e.get("TSAN_OPTIONS") else supp
        self.proc = subprocess.Popen(list(cmd_prefix) + [SOCKSGATE, "-c", self.conf] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=e)
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                # No "with" block owns the process yet: do not leave it running.
                self.kill()
                self.logf.close()
                raise

    def line_of(self, text):
        """The 1-based line of the config file that is exactly text (for FILE:LINE)."""
        with open(self.conf) as f:
            for i, line in enumerate(f, 1):
                if line.rstrip("\n") == text:
                    return i
        raise AssertionError("%r is not a line of %s" % (text, self.conf))

    def rewrite(self, config, loopback_targets=True):
        """Replaces the config file (keeping the listen line and the test PAM
        service); SIGHUP applies it."""
        lines = self.head + list(config)
        if loopback_targets:
            lines.append(self.LOOPBACK_RULE)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def ctl(self, *args, prefix=(), timeout=90):
        """Runs socksgatectl --socket self.control ARGS (after prefix, such as
        setpriv as another user); returns the CompletedProcess, text output."""
        if not SOCKSGATECTL or not os.access(SOCKSGATECTL, os.X_OK):
            raise RuntimeError("SOCKSGATECTL does not name the built socksgatectl: %r"
                               % SOCKSGATECTL)
        r = subprocess.run(list(prefix) + [SOCKSGATECTL, "--socket", self.control] + list(args),
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        log("socksgatectl %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                r.stderr))
        return r

    def ctl_json(self, *args, expect_rc=0, **kw):
        """socksgatectl --json ARGS: checks the exit status, returns the answer."""
        r = self.ctl("--json", *args, **kw)
        check(r.returncode == expect_rc, "socksgatectl %s exited %d, not %d: %s" % (
            " ".join(args), r.returncode, expect_rc, r.stderr))
        return json.loads(r.stdout)

    def addr_str(self):
        return ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("socksgate exited with %d:\n%s" % (self.proc.returncode,
                                                                       self.log()))
            if "started" in self.log():
                return
            time.sleep(0.02)
        raise AssertionError("socksgate did not start in %ds:\n%s" % (timeout, self.log()))

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10, count=1):
        """Waits until pattern (a regex) matches count times; returns the matches."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.log(), re.M)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("log never matched %r (%d of %d):\n%s" % (
                    pattern, len(found), count, self.log()))
            time.sleep(0.02)

    def sessions(self):
        """The parsed session records logged so far, as dicts."""
        out = []
        for line in self.log().splitlines():
            m = re.search(r"session (\d+) (.*)$", line)
            if not m:
                continue
            rec = {"id": int(m.group(1))}
            rest = m.group(2)
            reason = None
            if " reason=" in rest:
                rest, reason = rest.split(" reason=", 1)
            for kv in rest.split(" "):
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    rec[k] = v
            rec["reason"] = reason
            out.append(rec)
        return out

    def last_session(self):
        """The record of the session that started last (records come in the
        order sessions end, which is not always the order they started)."""
        recs = self.sessions()
        check(recs, "no session record yet:\n" + self.log())
        return max(recs, key=lambda r: r["id"])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20, expect_rc=0):
        """SIGTERM, wait, and check the exit code and that no sanitizer spoke."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("socksgate did not stop on SIGTERM:\n" + self.log())
        self.logf.close()
        text = self.log()
        if "Sanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report:\n" + text)
        if expect_rc is not None and rc != expect_rc:
            raise AssertionError("socksgate exited %d (expected %d):\n%s" % (rc, expect_rc, text))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
            sys.stderr.write("--- socksgate log ---\n" + self.log())
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class Server:
    """A threaded TCP server on loopback; handler(conn) runs per connection."""

    def __init__(self, handler, host="127.0.0.1", port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(512)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            c.settimeout(60)
            self.handler(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        c.sendall(d)


def echo_server(host="127.0.0.1"):
    return Server(echo_handler, host)


def recv_exact(s, n, timeout=10):
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def recv_all(s, timeout=30):
    """Reads until EOF."""
    s.settimeout(timeout)
    buf = bytearray()
    while True:
        d = s.recv(1 << 16)
        if not d:
            return bytes(buf)
        buf += d


def closed_by_peer(s, timeout=5):
    """True when the peer closes (EOF or reset) within timeout, after any pending bytes."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def accept_queue(port):
    """Connections waiting in the accept queue of the listening TCP socket on
    port (from /proc/net/tcp and tcp6), or None when none is found."""
    found = None
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found = (found or 0) + int(fields[4].split(":")[1], 16)
    return found


def wait_accepted(d, timeout=30):
    """Waits until the daemon has accepted every connection made to it so far
    (its accept queue is empty); slow builds (TSan) accept slowly. Returns the
    seconds waited."""
    t0 = time.monotonic()
    while accept_queue(d.port):
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%d connections still not accepted after %ds" % (
                accept_queue(d.port), timeout))
        time.sleep(0.01)
    return time.monotonic() - t0


def encode_addr(host, port):
    try:
        ip = ipaddress.ip_address(host)
        if ip.version == 4:
            return b"\x01" + ip.packed + struct.pack("!H", port)
        return b"\x04" + ip.packed + struct.pack("!H", port)
    except ValueError:
        name = host.encode()
        return b"\x03" + bytes([len(name)]) + name + struct.pack("!H", port)


def read_reply(s, timeout=10):
    """Reads a SOCKS5 command reply; returns (rep, bound_host, bound_port)."""
    head = recv_exact(s, 4, timeout)
    check(head[0] == 5, "reply version %r" % head[0])
    check(head[2] == 0, "reply RSV %r" % head[2])
    atyp = head[3]
    if atyp == 1:
        a = recv_exact(s, 6, timeout)
        host = str(ipaddress.IPv4Address(a[:4]))
    elif atyp == 4:
        a = recv_exact(s, 18, timeout)
        host = str(ipaddress.IPv6Address(a[:16]))
    elif atyp == 3:
        n = recv_exact(s, 1, timeout)[0]
        a = recv_exact(s, n + 2, timeout)
        host = a[:n].decode()
    else:
        raise AssertionError("reply ATYP %r" % atyp)
    return head[1], host, struct.unpack("!H", a[-2:])[0]


def tcp_refused(host, port):
    """True when nothing listens on host:port (the connection is refused)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return True
    return False


def connect_proxy(d, timeout=10, source=None):
    """A TCP connection to the daemon, from the address source if given."""
    fam = socket.AF_INET6 if ":" in d.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source is not None:
        s.bind((source, 0))
    s.connect((d.host, d.port))
    return s


def greet(s, methods=b"\x00"):
    """Sends a greeting; returns the method the server chose."""
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    r = recv_exact(s, 2)
    check(r[0] == 5, "method reply version %r" % r[0])
    return r[1]


def userpass(s, user, password, version=1):
    u = user.encode() if isinstance(user, str) else user
    p = password.encode() if isinstance(password, str) else password
    s.sendall(bytes([version, len(u)]) + u + bytes([len(p)]) + p)
    r = recv_exact(s, 2)
    return r


def socks_request(d, host, port, cmd=1, methods=b"\x00", user=None, password=None, timeout=10,
                  source=None):
    """Handshake and one request; returns (sock, rep, bound_host, bound_port)."""
    s = connect_proxy(d, timeout, source)
    if user is not None:
        methods = b"\x02"
    m = greet(s, methods)
    if user is not None:
        check(m == 2, "server chose method %r" % m)
        r = userpass(s, user, password)
        check(r == b"\x01\x00", "auth reply %r" % r)
    else:
        check(m == 0, "server chose method %r" % m)
    s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + encode_addr(host, port))
    rep, bh, bp = read_reply(s, timeout)
    return s, rep, bh, bp


def echo_round_trip(d, echo_port, msg):
    """CONNECT through d to an echo server on 127.0.0.1; msg comes back whole."""
    s, rep, _, _ = socks_request(d, "127.0.0.1", echo_port)
    with s:
        check(rep == 0, "reply 0x%02x" % rep)
        s.sendall(msg)
        check(recv_exact(s, len(msg)) == msg, "echo of %d bytes differs" % len(msg))


def slow_download(d, size, sample):
    """CONNECT through d to a server that sends size random bytes and read
    them slowly, calling sample() between reads. Returns (the largest value
    sample() gave, whether every byte arrived intact)."""
    data = os.urandom(size)

    def sender(c):
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)

    seen = 0
    with Server(sender) as src:
        s, rep, _, _ = socks_request(d, "127.0.0.1", src.port)
        check(rep == 0, "reply 0x%02x" % rep)
        h, n = hashlib.sha256(), 0
        s.settimeout(30)
        while True:
            b = s.recv(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
            seen = max(seen, sample())
            time.sleep(0.002)
        s.close()
    return seen, n == size and h.hexdigest() == sha256(data)


def terminate(proc, timeout=20):
    """SIGTERM to a process this test started; SIGKILL when it outlives
    timeout. Returns its exit code (None when it had to be killed)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, timeout=timeout, capture_output=True, **kw)


def main(fn):
    """Runs a test function; prints PASS or the failure and exits accordingly."""
    try:
        fn()
    except SystemExit:
        raise
    except BaseException:
        import traceback
        traceback.print_exc()
        sys.exit(1)
    print("PASS")
    sys.exit(0)




def pam_matrix_path():
    libdir = os.environ.get("PAM_WRAPPER_LIBDIR") or "/usr/lib/x86_64-linux-gnu"
    for cand in (os.path.join(libdir, "pam_wrapper", "pam_matrix.so"),
                 "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so"):
        if os.path.exists(cand):
            return cand
    return None


_pam_services = []  # files and directories pam_wrapper_env() made


def _remove_pam_services():
    for path in _pam_services:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def pam_wrapper_env(users, service="socksgate", extra_auth=()):
    """A pam_matrix setup: users is {name: password}. Returns the environment
    for the daemon (pass it to Daemon as env). extra_auth lines go before
    pam_matrix's auth.

    As root, the stack is a real /etc/pam.d service (removed at exit) that the
    real libpam loads; the Daemon is pointed at it. Otherwise pam_wrapper
    redirects libpam to a private service directory."""
    matrix = pam_matrix_path()
    if matrix is None:
        skip("pam_wrapper's pam_matrix.so is not installed (package libpam-wrapper)")
    root = os.geteuid() == 0 and os.path.isdir("/etc/pam.d")
    if root:
        service = "socksgate-test-%d-%d" % (os.getpid(), len(_pam_services))
    d = tempfile.mkdtemp(prefix="socksgate-pam-")
    os.chmod(d, 0o755)
    if not _pam_services:
        import atexit
        atexit.register(_remove_pam_services)
    _pam_services.append(d)
    passdb = os.path.join(d, "passdb")
    with open(passdb, "wb") as f:
        for u, p in users.items():
            u = u.encode() if isinstance(u, str) else u
            p = p.encode() if isinstance(p, str) else p
            f.write(u + b":" + p + b":" + service.encode() + b"\n")
    os.chmod(passdb, 0o644)
    svc = "".join(l + "\n" for l in extra_auth)
    svc += "auth required %s passdb=%s\n" % (matrix, passdb)
    svc += "account required %s passdb=%s\n" % (matrix, passdb)
    if root:
        path = os.path.join("/etc/pam.d", service)
        _pam_services.append(path)
        with open(path, "w") as f:
            f.write(svc)
        return {PAM_SERVICE_ENV: service}
    for name in (service, "other"):
        with open(os.path.join(d, name), "w") as f:
            f.write(svc)
    return {
        "LD_PRELOAD": "libpam_wrapper.so",
        "PAM_WRAPPER": "1",
        "PAM_WRAPPER_SERVICE_DIR": d,
        # Sanitizer runtimes refuse RTLD_DEEPBIND; pam_wrapper 1.1.4 reads the
        # uid_wrapper spelling of the switch, later versions their own.
        "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
        "UID_WRAPPER_DISABLE_DEEPBIND": "1",
        # A sanitizer runtime wants to be first; pam_wrapper is preloaded before it.
        "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0",
        "TSAN_OPTIONS": "verify_interceptors=0",
    }
