#!/usr/bin/python3
"""Privileges outside systemd, as root: with user = NAME the daemon binds,
then runs as that user with its supplementary groups (checked in
/proc/PID/status) and still serves; in the 'shadow' group PAM's start-time
warning about /etc/shadow is absent, without it the warning is there. -u is
the command-line twin. Without user it says once that it runs as root. An
unknown user or a non-root start naming another user is a clear error."""
import grp
import os
import pwd
import re
import shutil
import subprocess

import sgtest


def status_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = [int(x) for x in v.split()]
    return ids


def served(d, echo):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
    with s:
        assert rep == 0, rep
        s.sendall(b"ping")
        assert sgtest.recv_exact(s, 4) == b"ping"


def fails_to_start(config, args=(), pattern=""):
    d = sgtest.Daemon(config, args=args, wait=False)
    try:
        rc = d.proc.wait(10)
        assert rc == 1, (rc, d.log())
        assert re.search(pattern, d.log(), re.M), d.log()
        assert "started" not in d.log(), d.log()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def test():
    sgtest.require_root("dropping privileges needs a root start")
    useradd = sgtest.require_tool("useradd")
    userdel = sgtest.require_tool("userdel")
    try:
        shadow_gid = grp.getgrnam("shadow").gr_gid
    except KeyError:
        sgtest.skip("there is no 'shadow' group")
    name = "sgtest%d" % os.getpid()
    r = sgtest.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--groups", "shadow", name])
    if r.returncode != 0:
        sgtest.skip("useradd failed: " + r.stderr.decode())
    try:
        pw = pwd.getpwnam(name)
        with sgtest.echo_server() as echo:
            # The config key: uid, gid and supplementary groups all switch.
            with sgtest.Daemon(["auth = none", "user = " + name]) as d:
                ids = status_ids(d.proc.pid)
                sgtest.log("as %s: %r" % (name, ids))
                assert ids["Uid"] == [pw.pw_uid] * 4, ids
                assert ids["Gid"] == [pw.pw_gid] * 4, ids
                assert shadow_gid in ids["Groups"], ids
                assert 0 not in ids["Groups"], ids
                served(d, echo)
                d.wait_log(r"running as user %s \(uid %d" % (name, pw.pw_uid))
                assert "running as root" not in d.log(), d.log()

            # PAM needs /etc/shadow: the group gives it, so no warning.
            env = sgtest.pam_wrapper_env({"alice": "pw"})
            with sgtest.Daemon(["auth = pam", "user = " + name], env=env) as d:
                assert "/etc/shadow" not in d.log(), d.log()
            # nobody has no shadow group: the warning names the problem, once.
            with sgtest.Daemon(["auth = pam"], args=["-u", "nobody"], env=env) as d:
                ids = status_ids(d.proc.pid)
                nobody = pwd.getpwnam("nobody")
                assert ids["Uid"] == [nobody.pw_uid] * 4, ids
                assert shadow_gid not in ids["Groups"], ids
                assert len(re.findall(r"without read access to /etc/shadow", d.log())) == 1, \
                    d.log()

            # Root without user: said once, at notice level, with the way out.
            with sgtest.Daemon(["auth = none"]) as d:
                served(d, echo)
                found = re.findall(r"^notice: running as root.*user = socksgate.*shadow", d.log(),
                                   re.M)
                assert len(found) == 1, d.log()
                assert status_ids(d.proc.pid)["Uid"][0] == 0

        fails_to_start(["auth = none", "user = nosuchuser%d" % os.getpid()],
                       pattern=r"^error: user 'nosuchuser\d+': no such user")

        # Not root and naming another user: refused with a reason.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            sgtest.log("setpriv missing: the non-root case is not checked")
        else:
            d = sgtest.Daemon(["auth = none", "user = nobody"], wait=False,
                              cmd_prefix=[setpriv, "--reuid", str(pw.pw_uid), "--regid",
                                          str(pw.pw_gid), "--init-groups"])
            try:
                assert d.proc.wait(10) == 1, d.log()
                assert re.search(r"cannot switch to user 'nobody': running as uid %d, and only "
                                 r"root can change user" % pw.pw_uid, d.log()), d.log()
            finally:
                d.kill()
                shutil.rmtree(d.dir, ignore_errors=True)
    finally:
        subprocess.run([userdel, name], capture_output=True)


sgtest.main(test)
