"""Helpers for the login tests: count the calls a PAM stack gets (pam_exec
running a script that logs each one), real system accounts and /etc/pam.d
service files as root (removed afterwards), and raw RFC 1929 attempts with
their timing. Every wait is bounded; everything made is removed at exit."""

import atexit
import os
import shutil
import subprocess
import tempfile
import time

import sgtest

PAM_MODULE_DIRS = ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
                   "/lib/security", "/usr/lib/security")

_made = []  # files and directories to remove at exit


def _cleanup():
    for path in reversed(_made):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


atexit.register(_cleanup)


def pam_module(name):
    """The path of the PAM module name, or None when it is not installed."""
    for d in PAM_MODULE_DIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    return None


class PamCalls:
    """Counts what a PAM stack is asked to do. self.lines are two pam_exec
    lines (pass them as pam_wrapper_env's extra_auth, or put them in a
    service file) that run a script appending "TYPE USER" to a file on every
    pam_authenticate (TYPE auth) and pam_acct_mgmt (TYPE account).
    auth_sleep makes every auth step take that long (seconds)."""

    def __init__(self, auth_sleep=0):
        exe = pam_module("pam_exec.so")
        if exe is None:
            sgtest.skip("pam_exec.so is not installed")
        self.dir = tempfile.mkdtemp(prefix="socksgate-pamcalls-")
        _made.append(self.dir)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "calls")
        with open(self.path, "w"):
            pass
        os.chmod(self.path, 0o666)  # also for a daemon that dropped privileges
        script = os.path.join(self.dir, "count.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\necho "$PAM_TYPE $PAM_USER" >> "%s"\n' % self.path)
            if auth_sleep:
                f.write('[ "$PAM_TYPE" = auth ] && sleep %s\n' % auth_sleep)
            f.write("exit 0\n")
        os.chmod(script, 0o755)
        self.lines = ["auth optional %s quiet %s" % (exe, script),
                      "account optional %s quiet %s" % (exe, script)]

    def count(self, kind, user=None):
        """Calls of kind ("auth" or "account") so far, for user if given."""
        n = 0
        with open(self.path) as f:
            for line in f:
                t, _, u = line.rstrip("\n").partition(" ")
                if t == kind and (user is None or u == user):
                    n += 1
        return n

    def counts(self):
        return self.count("auth"), self.count("account")


def install_pam_service(text):
    """As root: writes text as a new /etc/pam.d service (removed at exit);
    returns its name."""
    sgtest.require_root("a service file in /etc/pam.d needs root")
    if not os.path.isdir("/etc/pam.d"):
        sgtest.skip("no /etc/pam.d")
    name = "socksgate-test-%d-auth%d" % (os.getpid(), len(_made))
    path = os.path.join("/etc/pam.d", name)
    _made.append(path)
    with open(path, "w") as f:
        f.write(text)
    return name


def project_pam_service(first=()):
    """As root: the project's pam.d/socksgate (the system's common-auth and
    common-account) installed under a new name, with the lines first in
    front; returns the name."""
    sgtest.require_root("a service file in /etc/pam.d needs root")
    if not os.path.exists("/etc/pam.d/common-auth"):
        sgtest.skip("no Debian common-auth PAM stack")
    with open(os.path.join(sgtest.TOP_SRCDIR, "pam.d", "socksgate")) as f:
        return install_pam_service("".join(l + "\n" for l in first) + f.read())


def sh(*cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, timeout=60, capture_output=True)
    sgtest.check(r.returncode == 0, "%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                            r.stderr.decode(errors="replace")))
    return r


class SystemAccounts:
    """Real accounts, as root: users is {name: password}. Entering the with
    block makes them (useradd, no home, nologin shell; chpasswd with the
    system's default hash); leaving it removes them (userdel), even when
    making them failed half-way."""

    def __init__(self, users):
        sgtest.require_root("real accounts need root")
        for tool in ("useradd", "userdel", "chpasswd", "chage", "usermod"):
            sgtest.require_tool(tool)
        self.users = dict(users)
        self.made = []

    def __enter__(self):
        try:
            for u in self.users:
                sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", u)
                self.made.append(u)
            sh("chpasswd", stdin="".join("%s:%s\n" % kv for kv in self.users.items()).encode())
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self):
        for u in self.made:
            subprocess.run(["userdel", u], timeout=60, capture_output=True)
        self.made = []

    def __exit__(self, *a):
        self.remove()
        return False

    def hash_method(self, user):
        """The crypt prefix of user's hash in /etc/shadow ("$y$" for yescrypt)."""
        with open("/etc/shadow") as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == user:
                    h = fields[1]
                    return h[:h.index("$", 1) + 1] if h.startswith("$") else h[:1]
        raise AssertionError("%s is not in /etc/shadow" % user)


def attempt(d, user, password, delay_before=0.0, timeout=10, source=None):
    """One RFC 1929 login on a new connection: greets with method 0x02, waits
    delay_before seconds, sends user/password. Returns (status, seconds from
    the send of the credentials to the reply); status is the reply's second
    byte, or "blocked" when the greeting got 0xFF. Closes the connection."""
    s = sgtest.connect_proxy(d, timeout, source)
    try:
        m = sgtest.greet(s, b"\x02")
        if m == 0xFF:
            return "blocked", 0.0
        sgtest.check(m == 2, "server chose method %r" % m)
        if delay_before:
            time.sleep(delay_before)
        return credentials(s, user, password, timeout)
    finally:
        s.close()


def credentials(s, user, password, timeout=10):
    """Sends user/password on a connection that was greeted with 0x02;
    returns (status, seconds from the send to the reply). After a failure
    the server must close the connection."""
    u = user.encode() if isinstance(user, str) else user
    p = password.encode() if isinstance(password, str) else password
    t0 = time.monotonic()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    r = sgtest.recv_exact(s, 2, timeout)
    dt = time.monotonic() - t0
    sgtest.check(r[0] == 1, "auth reply version %r" % r[0])
    if r[1] != 0:
        sgtest.check(sgtest.closed_by_peer(s), "connection not closed after a failed login")
    return r[1], dt


def attempt_record(d, user, password, delay_before=0.0):
    """attempt(), then waits for its session record. Returns (status,
    seconds, the record as Daemon.sessions() parses it). Only for one
    session at a time: the record taken is the next one logged."""
    n = len(d.sessions())
    st, took = attempt(d, user, password, delay_before)
    d.wait_log(r"session \d+ ", count=n + 1)
    return st, took, d.sessions()[n]
