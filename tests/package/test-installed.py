#!/usr/bin/python3
"""The package on this machine, as root (issue 14): `apt-get install ./DEB`,
then its files, its conffiles, the user, and `socksgate -t` on the shipped
configuration (the built-in defaults, also with its commented settings turned
on); the installed binary with the installed configuration and PAM file on a
loopback port, as user socksgate, and a login through curl with a system
account made for the test; a second install over an edited /etc/pam.d/socksgate
keeps the edit; `apt-get purge` leaves nothing of the package but the user.

Usage: test-installed.py PATH/socksgate_VERSION_ARCH.deb"""
import difflib
import grp
import hashlib
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time

import pkgtest
import sgtest
from pkgtest import run

CONF = "/etc/socksgate/socksgate.conf"
PAM = "/etc/pam.d/socksgate"
CONFFILES = {CONF, PAM}
EXPECTED = [
    "/usr/sbin/socksgate",
    CONF, PAM,
    "/lib/systemd/system/socksgate.service",
    "/lib/systemd/system/socksgate.socket",
    "/usr/lib/systemd/catalog/socksgate.catalog",
    "/usr/lib/sysusers.d/socksgate.conf",
    "/usr/share/man/man8/socksgate.8.gz",
    "/usr/share/man/man5/socksgate.conf.5.gz",
    "/usr/share/doc/socksgate/copyright",
    "/usr/share/doc/socksgate/changelog.gz",
    "/usr/share/doc/socksgate/NEWS.gz",
    "/usr/share/doc/socksgate/README.gz",
    "/usr/share/doc/socksgate/socksgate.conf.example",
]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
EDIT = "# a local edit the package test made\n"


def status():
    r = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "socksgate"], check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def apt(*args):
    return run(["apt-get", "-y", "-q"] + list(args), env=APT_ENV, timeout=600)


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def fresh_start():
    """Leaves no socksgate package, and no user that an earlier run's
    package made, so that this run sees the package create it."""
    if status():
        sgtest.log("socksgate is installed (%s): purging it first" % status())
        apt("purge", "socksgate")
    try:
        pw = pwd.getpwnam(pkgtest.SYSUSER)
    except KeyError:
        return True
    if pw.pw_gecos == pkgtest.SYSUSER_GECOS:
        sgtest.log("removing the user %s an earlier install made" % pkgtest.SYSUSER)
        run(["userdel", pkgtest.SYSUSER])
        return True
    sgtest.log("user %s exists and was not made by the package: checking it as it is"
               % pkgtest.SYSUSER)
    return False


def check_files(version):
    listed = run(["dpkg", "-L", "socksgate"]).stdout.split()
    files = [p for p in listed if os.path.isfile(p) and not os.path.islink(p)]
    missing = [p for p in EXPECTED if p not in files]
    assert not missing, "not installed: %r\n%s" % (missing, "\n".join(listed))
    assert not [p for p in listed if p.startswith("/usr/local")], listed
    # Every program in /usr/sbin (socksgatectl too, once it exists) has its page.
    for p in files:
        if p.startswith("/usr/sbin/"):
            page = "/usr/share/man/man8/%s.8.gz" % os.path.basename(p)
            assert page in files, "%s has no manual page %s" % (p, page)
    with open("/lib/systemd/system/socksgate.service") as f:
        assert "ExecStart=/usr/sbin/socksgate" in f.read()
    out = run(["/usr/sbin/socksgate", "-V"]).stdout
    assert out.strip() == "socksgate " + version, out
    return files


def check_conffiles():
    text = run(["dpkg-query", "-W", "-f=${Conffiles}\n", "socksgate"]).stdout
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if parts:
            found[parts[0]] = parts[1]
    assert set(found) == CONFFILES, "conffiles: %r" % found
    for path, digest in found.items():
        assert md5(path) == digest, "%s differs from the package's" % path


def check_user():
    pw = pwd.getpwnam(pkgtest.SYSUSER)
    assert pw.pw_uid < 1000 and pw.pw_uid != 0, pw
    assert pw.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin"), pw
    assert pw.pw_gecos == pkgtest.SYSUSER_GECOS, pw
    assert pkgtest.SYSUSER in grp.getgrnam("shadow").gr_mem, "socksgate is not in group shadow"
    sgtest.log("user: %r" % (pw,))


def dump(path):
    r = run(["/usr/sbin/socksgate", "-t", "-c", path], check=False)
    assert r.returncode == 0 and "configuration OK" in r.stdout, (path, r.stdout, r.stderr)
    return r.stdout


def check_shipped_config(tmp):
    """The shipped file is the built-in defaults, and each value it shows
    commented out is the default: turned on, they change nothing."""
    defaults = dump("/dev/null")
    assert dump(CONF) == defaults, "the shipped %s is not the built-in defaults" % CONF
    r = run(["/usr/sbin/socksgate", "-t"])  # the default path is the shipped file
    assert r.stdout == defaults, r.stdout
    fixed = set(re.findall(r"^([a-z][a-z0-9_]*) = ", defaults.split("\n\n", 1)[0], re.M))
    assert {"listen", "methods", "pam_service"} <= fixed, defaults
    with open(CONF) as f:
        text = f.read()
    shown = set(re.findall(r"^#([a-z][a-z0-9_]*) = ", text, re.M))
    assert not fixed - shown, "the shipped file does not show %r" % sorted(fixed - shown)
    on = re.sub(r"^#(([a-z][a-z0-9_]*) = )", lambda m: m.group(1) if m.group(2) in fixed
                else m.group(0), text, flags=re.M)
    path = os.path.join(tmp, "uncommented.conf")
    with open(path, "w") as f:
        f.write(on)
    out = dump(path)
    assert out == defaults, "a commented value in %s is not the default:\n%s" % (
        CONF, "\n".join(difflib.unified_diff(defaults.splitlines(), out.splitlines(),
                                              "defaults", "uncommented", lineterm="")))
    sgtest.log("shipped configuration: the defaults, %d settings shown" % len(shown))


class Installed:
    """/usr/sbin/socksgate -c CONFIG -l 127.0.0.1:PORT -u socksgate, as root,
    logging to a file; stopped with SIGTERM on leaving."""

    def __init__(self, config, tmp):
        self.port = sgtest.free_port()
        self.logpath = os.path.join(tmp, "socksgate-%d.log" % self.port)
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(["/usr/sbin/socksgate", "-c", config, "-l",
                                      "127.0.0.1:%d" % self.port, "-u", pkgtest.SYSUSER],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "started" not in self.log():
            assert self.proc.poll() is None, "socksgate exited:\n" + self.log()
            assert time.monotonic() < deadline, "socksgate did not start:\n" + self.log()
            time.sleep(0.05)

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log(), re.M):
            assert time.monotonic() < deadline, "log never matched %r:\n%s" % (pattern,
                                                                            self.log())
            time.sleep(0.05)

    def uid(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc = sgtest.terminate(self.proc)
        self.logf.close()
        if exc[0] is None:
            assert rc == 0, "socksgate exited %r:\n%s" % (rc, self.log())
        else:
            sys.stderr.write("--- socksgate log ---\n" + self.log())
        return False


def check_running(tmp, user):
    """The installed binary, configuration and PAM file, as user socksgate."""
    with pkgtest.http_server() as web:
        # The shipped configuration: the login works, and the built-in policy
        # refuses the loopback destination (reply 0x02).
        with Installed(CONF, tmp) as d:
            assert d.uid() == pwd.getpwnam(pkgtest.SYSUSER).pw_uid, "did not drop to socksgate"
            r = pkgtest.curl(d.port, user, pkgtest.PASSWORD, web.port)
            assert r.returncode != 0, r
            d.wait_log(r"session \d+ client=127\.0\.0\.1:\d+ user=%s .*reply=0x02" % user)
            r = pkgtest.curl(d.port, user, "wrong", web.port)
            assert r.returncode != 0, r
            d.wait_log(r"authentication failure for %s from 127\.0\.0\.1" % user)
        # The same file with loopback destinations allowed: curl gets the page.
        conf = os.path.join(tmp, "loopback.conf")
        with open(CONF) as src, open(conf, "w") as dst:
            dst.write(src.read() + "allow to 127.0.0.0/8\n")
        os.chmod(tmp, 0o755)
        with Installed(conf, tmp) as d:
            pkgtest.curl_ok(d.port, user, web.port)
            d.wait_log(r"session \d+ client=127\.0\.0\.1:\d+ user=%s .*reply=0x00" % user)
    sgtest.log("login through the installed binary, config and PAM file: ok")


def check_reinstall_keeps_edit(deb):
    with open(PAM, "a") as f:
        f.write(EDIT)
    apt("install", "--reinstall", deb)
    with open(PAM) as f:
        assert f.read().endswith(EDIT), "the reinstall replaced the edited " + PAM
    # dpkg still knows the file as a changed conffile.
    r = run(["dpkg", "--verify", "socksgate"], check=False)
    assert re.search(r"^\S*5\S* c %s$" % re.escape(PAM), r.stdout, re.M), r.stdout
    sgtest.log("reinstall over an edited %s: kept" % PAM)


def leftovers():
    found = []
    for top in ("/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
                "/var/lib/systemd/deb-systemd-helper-masked"):
        for d, dirs, names in os.walk(top):
            found += [os.path.join(d, n) for n in names + dirs if "socksgate" in n]
    found += [os.path.join("/var/lib/dpkg/info", n) for n in os.listdir("/var/lib/dpkg/info")
              if n.startswith("socksgate.") or n.startswith("socksgate:")]
    return found


def check_purge(files):
    assert leftovers(), "no enable symlink or state before the purge: the check sees nothing"
    apt("purge", "socksgate")
    assert status() == "", "socksgate still known to dpkg: %r" % status()
    left = [p for p in files if os.path.lexists(p)]
    assert not left, "left after purge: %r" % left
    for d in ("/etc/socksgate", "/usr/share/doc/socksgate"):
        assert not os.path.lexists(d), "%s is left after purge" % d
    assert not leftovers(), "left after purge: %r" % leftovers()
    pwd.getpwnam(pkgtest.SYSUSER)  # Debian keeps system users
    sgtest.log("purge: nothing left but the user %s" % pkgtest.SYSUSER)


def test():
    sgtest.require_root("installing a package needs root")
    for tool in ("apt-get", "dpkg", "dpkg-query", "dpkg-deb", "dpkg-parsechangelog",
                 "useradd", "userdel", "chpasswd", "curl"):
        sgtest.require_tool(tool)
    deb = pkgtest.deb_argument(sys.argv)
    version = pkgtest.check_versions(deb)
    user_made_here = fresh_start()
    tmp = tempfile.mkdtemp(prefix="socksgate-pkg-")
    name = "sgpkg%d" % (os.getpid() % 100000)
    try:
        t0 = time.monotonic()
        apt("install", deb)
        sgtest.log("apt-get install: %.1f s" % (time.monotonic() - t0))
        assert status() == "ii", status()
        files = check_files(version)
        check_conffiles()
        check_user()
        sgtest.log("user %s: %s" % (pkgtest.SYSUSER,
                                    "made by the package" if user_made_here else "kept"))
        check_shipped_config(tmp)
        with pkgtest.account(name) as user:
            check_running(tmp, user)
        check_reinstall_keeps_edit(deb)
        check_purge(files)
    finally:
        if status():
            apt("purge", "socksgate")
        run(["rm", "-rf", tmp])


sgtest.main(test)
