#!/usr/bin/python3
"""The package under a real systemd (issue 14), as root: a minimal bookworm
tree from this machine's apt mirror (debootstrap, cached for the day), booted
with systemd-nspawn on a private network, the package installed inside with
apt-get. Checks that socksgate.socket is enabled and listening and the
service idle; that a curl login through port 1080, with an account made in
the container, starts the service; that `journalctl SOCKS_USER=` finds the
session; that `systemctl reload` succeeds on a good configuration and does
not apply a broken one (failing, once the package has socksgatectl and the
reload is synchronous); that an upgrade restarts the service while the
socket keeps listening (same socket, no connection lost); that `systemctl
stop` drains a live session; and that a purge stops everything.

Skips (77) only when the mirror cannot be reached or nspawn cannot boot the
tree, and says which; anything after the container is up is a failure.

Usage: test-nspawn.py DEB        the test
       test-nspawn.py --prepare  only build (or find) today's cached tree,
                                 so that CI can do it in the background
Environment: SOCKSGATE_NSPAWN_CACHE (default /var/tmp/socksgate-nspawn)."""
import ctypes
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pkgtest
import sgtest
from pkgtest import run

SUITE = "bookworm"
CACHE = os.environ.get("SOCKSGATE_NSPAWN_CACHE", "/var/tmp/socksgate-nspawn")
INCLUDE = "systemd,systemd-sysv,dbus"
PORT = 1080  # ListenStream= of systemd/socksgate.socket
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "TERM": "dumb",
       "DEBIAN_FRONTEND": "noninteractive"}
# Journal MESSAGE_IDs (src/log.h, systemd/socksgate.catalog).
MSG_STARTED = "4190f567791840f3a2fbe03407fdacfd"
MSG_STOPPED = "cefecdcd843a44bb8f694ef1e247c94c"
MSG_RELOADED = "97ee0cf342f541faa1db5bb9355db392"
MSG_RELOAD_FAILED = "e74092cdd4364029919cf0665cf505d5"
MSG_SESSION = "7bab9c6e362a4c19841a7af637dc3bf8"


def t():
    return time.monotonic()


# --- the tree ----------------------------------------------------------------

def mirror():
    """The first Debian mirror this machine's apt uses for SUITE."""
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list") +
                                               glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for para in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", para, re.M))
                if ("deb" in fields.get("Types", "").split()
                        and SUITE in fields.get("Suites", "").split()
                        and "main" in fields.get("Components", "").split()):
                    return fields["URIs"].split()[0].rstrip("/")
        for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", text, re.M):
            if m.group(2) == SUITE and "main" in m.group(3).split():
                return m.group(1).rstrip("/")
    return None


def check_mirror():
    url = mirror()
    if url is None:
        sgtest.skip("the mirror cannot be reached: no '%s main' in /etc/apt/sources.list*" % SUITE)
    try:
        with urllib.request.urlopen("%s/dists/%s/Release" % (url, SUITE), timeout=20) as r:
            r.read(1)
    except OSError as e:
        sgtest.skip("the mirror %s cannot be reached: %s" % (url, e))
    return url


def prepare():
    """Today's tree (debootstrap --variant=minbase), built once a day and kept
    under CACHE; older ones are removed. Returns its path."""
    url = check_mirror()
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            sgtest.skip("nspawn cannot start: %s is not installed" % tool)
    os.makedirs(CACHE, exist_ok=True)
    tree = os.path.join(CACHE, "%s-%s" % (SUITE, time.strftime("%Y%m%d", time.gmtime())))
    with open(os.path.join(CACHE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a --prepare in the background may hold it
        if os.path.exists(tree + ".done"):
            sgtest.log("tree: %s (cached)" % tree)
            return tree
        for old in glob.glob(os.path.join(CACHE, SUITE + "-*")):
            shutil.rmtree(old, ignore_errors=True) if os.path.isdir(old) else os.unlink(old)
        start = t()
        tmp = tree + ".tmp"
        r = run(["debootstrap", "--variant=minbase", "--include=" + INCLUDE, SUITE, tmp, url],
                timeout=1200, check=False)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            check_mirror()  # skips if the mirror went away meanwhile
            raise AssertionError("debootstrap failed:\n" + (r.stdout + r.stderr)[-3000:])
        for deb in glob.glob(os.path.join(tmp, "var/cache/apt/archives/*.deb")):
            os.unlink(deb)
        os.rename(tmp, tree)
        open(tree + ".done", "w").close()
        sgtest.log("tree: %s, debootstrap from %s in %.0f s" % (tree, url, t() - start))
        return tree


# --- the container -----------------------------------------------------------

class Container:
    """systemd-nspawn -b on a copy of the tree, on a private network."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="socksgate-nspawn-", dir="/var/tmp")
        self.root = os.path.join(self.work, "root")
        self.name = "socksgate-test-%d" % os.getpid()
        self.proc = None
        self.leader = None

    def populate(self, tree, deb):
        """A copy of the tree with the package's dependencies and the .deb."""
        run(["cp", "-a", "--reflink=auto", tree, self.root])
        self.install_dependencies(deb)
        shutil.copy(deb, os.path.join(self.root, "root", "socksgate.deb"))

    def nspawn(self, *args):
        return ["systemd-nspawn", "-q", "-D", self.root, "--register=no", "--keep-unit",
                "--machine=" + self.name] + list(args)

    def install_dependencies(self, deb):
        """What the package needs, from the mirror, before the boot: the
        container itself has no network."""
        depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout.strip()
        cmd = self.nspawn("--pipe", "--setenv=DEBIAN_FRONTEND=noninteractive", "--",
                          "apt-get", "satisfy", "-y", "-q", "--no-install-recommends", depends)
        r = run(cmd, timeout=600, check=False)
        if r.returncode != 0:  # the day's lists may name files the mirror dropped
            run(self.nspawn("--pipe", "--", "apt-get", "update", "-q"), timeout=600)
            run(cmd, timeout=600)

    def boot(self):
        """Boots; returns once systemd reports running (or degraded). Skips
        when it does not get there."""
        self.logpath = os.path.join(self.work, "nspawn.log")
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.nspawn("-b", "--private-network"),
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = t() + 60
        while self.leader is None:
            if self.proc.poll() is not None or t() > deadline:
                sgtest.skip("nspawn cannot start the container (exit %r):\n%s" % (
                    self.proc.poll(), self.log()[-2000:]))
            self.leader = self.find_leader()
            time.sleep(0.1)
        # systemctl fails until PID 1 has opened its private socket.
        state = ""
        while state not in ("running", "degraded"):
            r = self.sh("systemctl", "is-system-running", "--wait", check=False, timeout=120)
            state = r.stdout.strip()
            if self.proc.poll() is not None or t() > deadline or state not in ("", "offline"):
                if state in ("running", "degraded"):
                    break
                sgtest.skip("nspawn cannot start the container: systemd is %r (%s):\n%s" % (
                    state, r.stderr.strip(), self.log()[-2000:]))
            time.sleep(0.2)
        if state == "degraded":
            sgtest.log("degraded: " + self.sh("systemctl", "--failed", "--no-legend").stdout)

    def find_leader(self):
        """The container's PID 1, a child of systemd-nspawn."""
        for st in glob.glob("/proc/[0-9]*/status"):
            try:
                with open(st) as f:
                    text = f.read()
            except OSError:
                continue
            ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
            nspid = re.search(r"^NSpid:\s+(.*)$", text, re.M)
            if ppid and int(ppid.group(1)) == self.proc.pid and nspid and \
                    nspid.group(1).split()[-1] == "1":
                return int(st.split("/")[2])
        return None

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def enter(self):
        return ["nsenter", "-t", str(self.leader), "-a", "--"]

    def sh(self, *cmd, check=True, timeout=120, **kw):
        """Runs cmd inside the container."""
        return run(self.enter() + list(cmd), check=check, timeout=timeout, env=ENV, **kw)

    def enter_network(self):
        """Moves this process into the container's network namespace, so its
        clients and servers meet the gateway on the container's loopback.
        Nothing here has started a thread yet, so all later ones follow."""
        fd = os.open("/proc/%d/ns/net" % self.leader, os.O_RDONLY)
        try:
            if hasattr(os, "setns"):
                os.setns(fd, os.CLONE_NEWNET)
            elif ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    def file(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def stop(self):
        """Powers off (SIGRTMIN+4 to its systemd); kills it when that takes
        too long; removes the copy of the tree."""
        if self.proc is not None and self.proc.poll() is None:
            if self.leader is not None:
                os.kill(self.leader, signal.SIGRTMIN + 4)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                if self.leader is not None:
                    os.kill(self.leader, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait(30)
        shutil.rmtree(self.work, ignore_errors=True)


# --- checks ------------------------------------------------------------------

def listening(port):
    """Inodes of the sockets listening on port in this network namespace."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                    inodes.add(fields[9])
    return inodes


def prop(c, unit, name):
    return c.sh("systemctl", "show", "-p", name, "--value", unit).stdout.strip()


def journal(c, *matches):
    out = c.sh("journalctl", "-q", "--no-pager", "-o", "json", *matches).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wait_journal(c, count, *matches, timeout=15):
    """Waits until the journal has at least count records for matches."""
    deadline = t() + timeout
    while True:
        recs = journal(c, *matches)
        if len(recs) >= count:
            return recs
        assert t() < deadline, "journal: %d of %d records for %r" % (len(recs), count, matches)
        time.sleep(0.2)


class Gateway:
    """Where sgtest's SOCKS helpers connect: the socket unit's port."""
    host, port = "127.0.0.1", PORT


def check_installed(c):
    r = c.sh("apt-get", "install", "-y", "-q", "/root/socksgate.deb", timeout=300)
    assert "socksgate" in r.stdout, r.stdout
    assert c.sh("systemctl", "is-enabled", "socksgate.socket").stdout.strip() == "enabled"
    assert c.sh("systemctl", "is-active", "socksgate.socket").stdout.strip() == "active"
    state = c.sh("systemctl", "is-active", "socksgate.service", check=False).stdout.strip()
    assert state == "inactive", "the service runs before any connection: %s" % state
    assert str(PORT) in prop(c, "socksgate.socket", "Listen")
    assert listening(PORT), "nothing listens on port %d" % PORT
    c.sh("getent", "passwd", pkgtest.SYSUSER)
    # The journal's trigger took in the catalog.
    assert "socksgate started" in c.sh("journalctl", "--list-catalog", MSG_STARTED).stdout


def check_login_starts(c, user, web):
    pkgtest.curl_ok(PORT, user, web.port)
    assert prop(c, "socksgate.service", "ActiveState") == "active"
    pid = prop(c, "socksgate.service", "MainPID")
    status = c.sh("cat", "/proc/%s/status" % pid).stdout
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
    assert uid == c.sh("id", "-u", pkgtest.SYSUSER).stdout.strip(), status
    recs = wait_journal(c, 1, "MESSAGE_ID=" + MSG_SESSION, "SOCKS_USER=" + user)
    assert any(r.get("SOCKS_DEST_PORT") == str(web.port) for r in recs), recs
    sgtest.log("login through the socket started the service (pid %s, uid %s); "
               "journalctl SOCKS_USER=%s: %d record(s)" % (pid, uid, user, len(recs)))


def check_reload(c, user, web, conf):
    pid = prop(c, "socksgate.service", "MainPID")
    n = len(journal(c, "MESSAGE_ID=" + MSG_RELOADED))
    c.sh("systemctl", "reload", "socksgate")
    wait_journal(c, n + 1, "MESSAGE_ID=" + MSG_RELOADED)
    # A broken file: the running configuration stays.
    with open(conf) as f:
        good = f.read()
    with open(conf, "a") as f:
        f.write("no_such_setting = 1\n")
    synchronous = os.path.exists(c.file("/usr/sbin/socksgatectl"))
    n = len(journal(c, "MESSAGE_ID=" + MSG_RELOAD_FAILED))
    r = c.sh("systemctl", "reload", "socksgate", check=False)
    if synchronous:
        assert r.returncode != 0, "systemctl reload succeeded on a broken configuration"
    else:
        wait_journal(c, n + 1, "MESSAGE_ID=" + MSG_RELOAD_FAILED)
    assert prop(c, "socksgate.service", "ActiveState") == "active"
    assert prop(c, "socksgate.service", "MainPID") == pid
    pkgtest.curl_ok(PORT, user, web.port)
    with open(conf, "w") as f:
        f.write(good)
    c.sh("systemctl", "reload", "socksgate")
    sgtest.log("reload: good file applied, broken one refused (%s)" % (
        "systemctl reload failed" if synchronous else "the journal says so; the reload is "
        "asynchronous until socksgatectl exists"))


def greet_loop(stop, result):
    """Greets the gateway over and over until stop is set; counts answers
    and failures (a refused connection means the socket went away)."""
    while not stop.is_set():
        try:
            with socket.create_connection((Gateway.host, PORT), timeout=30) as s:
                if sgtest.greet(s, b"\x02") == 2:
                    result["ok"] += 1
                else:
                    result["bad"].append("method")
        except (OSError, AssertionError) as e:
            result["bad"].append(repr(e))
        time.sleep(0.02)


def check_upgrade(c, user, web, conf):
    """Reinstalling the package runs the upgrade path (prerm upgrade,
    postinst configure VERSION): the service restarts, the socket stays."""
    inodes = listening(PORT)
    since = prop(c, "socksgate.socket", "ActiveEnterTimestampMonotonic")
    pid = prop(c, "socksgate.service", "MainPID")
    with open(conf) as f:
        edited = f.read()
    stop, result = threading.Event(), {"ok": 0, "bad": []}
    th = threading.Thread(target=greet_loop, args=(stop, result))
    th.start()
    try:
        time.sleep(0.5)
        start = t()
        c.sh("apt-get", "install", "-y", "-q", "--reinstall", "/root/socksgate.deb", timeout=300)
        took = t() - start
        time.sleep(0.5)
    finally:
        stop.set()
        th.join(60)
    assert not result["bad"], "connections failed during the upgrade: %r" % result["bad"][:5]
    assert result["ok"] > 0, result
    assert listening(PORT) == inodes, "the listening socket changed: %r -> %r" % (
        inodes, listening(PORT))
    assert prop(c, "socksgate.socket", "ActiveEnterTimestampMonotonic") == since
    assert prop(c, "socksgate.service", "ActiveState") == "active"
    newpid = prop(c, "socksgate.service", "MainPID")
    assert newpid != pid, "the service was not restarted (pid %s)" % pid
    with open(conf) as f:
        assert f.read() == edited, "the upgrade replaced the edited configuration"
    pkgtest.curl_ok(PORT, user, web.port)
    sgtest.log("upgrade in %.1f s: service restarted (pid %s -> %s), socket kept, "
               "%d greetings answered, none lost" % (took, pid, newpid, result["ok"]))


def check_stop_drains(c, user):
    """systemctl stop: a live session keeps relaying while the service
    drains (drain_timeout is 30 s here), and the stop ends with it."""
    with sgtest.echo_server() as echo:
        s, rep, _, _ = sgtest.socks_request(Gateway, "127.0.0.1", echo.port, user=user,
                                            password=pkgtest.PASSWORD)
        with s:
            assert rep == 0, rep
            n = len(journal(c, "MESSAGE_ID=" + MSG_STOPPED))
            stopper = subprocess.Popen(c.enter() + ["systemctl", "stop", "socksgate"], env=ENV,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = t() + 10
                while prop(c, "socksgate.service", "ActiveState") != "deactivating":
                    assert t() < deadline, "the service did not start to stop"
                    time.sleep(0.1)
                time.sleep(1)
                s.sendall(b"still here")
                assert sgtest.recv_exact(s, 10) == b"still here", "no relay while draining"
                assert stopper.poll() is None, "the stop did not wait for the live session"
            except BaseException:
                stopper.kill()
                raise
        closed = t()
        assert stopper.wait(20) == 0
    took = t() - closed
    assert took < 10, "the stop took %.1f s after the last session ended" % took
    assert prop(c, "socksgate.service", "ActiveState") == "inactive"
    assert c.sh("systemctl", "is-active", "socksgate.socket").stdout.strip() == "active"
    wait_journal(c, n + 1, "MESSAGE_ID=" + MSG_STOPPED)
    recs = wait_journal(c, 1, "MESSAGE_ID=" + MSG_SESSION, "SOCKS_USER=" + user,
                        "SOCKS_DEST_PORT=%d" % echo.port)
    assert int(recs[-1]["SOCKS_BYTES_UP"]) == 10, recs[-1]
    sgtest.log("stop drained: the live session relayed while stopping, the stop ended "
               "%.1f s after it" % took)


def check_purge(c, user, web):
    pkgtest.curl_ok(PORT, user, web.port)  # a running service for the purge to stop
    c.sh("apt-get", "purge", "-y", "-q", "socksgate", timeout=300)
    for unit in ("socksgate.socket", "socksgate.service"):
        state = c.sh("systemctl", "is-active", unit, check=False).stdout.strip()
        assert state == "inactive", "%s is %s after the purge" % (unit, state)
    assert not listening(PORT), "port %d still listens after the purge" % PORT
    comms = c.sh("sh", "-c", "cat /proc/[0-9]*/comm 2>/dev/null").stdout.split()
    assert "socksgate" not in comms, "a socksgate process outlived the purge"
    assert not os.path.lexists(c.file("/etc/socksgate")), "/etc/socksgate left"
    c.sh("getent", "passwd", pkgtest.SYSUSER)
    sgtest.log("purge: socket and service stopped, /etc/socksgate gone, the user kept")


def test():
    sgtest.require_root("debootstrap and systemd-nspawn need root")
    if sys.argv[1:] == ["--prepare"]:
        prepare()
        return
    deb = pkgtest.deb_argument(sys.argv)
    sgtest.require_tool("curl")
    start = t()
    tree = prepare()
    c = Container()
    try:
        c.populate(tree, deb)
        c.boot()
        sgtest.log("container up in %.1f s" % (t() - start))
        c.enter_network()
        check_installed(c)
        conf = c.file("/etc/socksgate/socksgate.conf")
        with open(conf, "a") as f:
            f.write("allow to 127.0.0.0/8\ndrain_timeout = 30s\n")
        name = "sgct%d" % (os.getpid() % 100000)
        with pkgtest.account(name, enter=c.enter()) as user, pkgtest.http_server() as web:
            check_login_starts(c, user, web)
            check_reload(c, user, web, conf)
            check_upgrade(c, user, web, conf)
            check_stop_drains(c, user)
            check_purge(c, user, web)
        sgtest.log("container test: %.1f s" % (t() - start))
    except Exception:  # not a skip (SystemExit)
        if c.leader is not None:
            sys.stderr.write("--- journal of socksgate in the container ---\n" + c.sh(
                "journalctl", "--no-pager", "-u", "socksgate.service", "-u", "socksgate.socket",
                check=False).stdout[-4000:])
        raise
    finally:
        c.stop()


sgtest.main(test)
