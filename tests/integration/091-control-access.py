#!/usr/bin/python3
"""Who may use the control socket, as root with throwaway accounts: with
control_group the socket file is mode 0660 in that group; a member (by its
supplementary groups, or running with the group as its gid) is served, a
user outside it is refused by the file mode, and still by the daemon's
SO_PEERCRED check when the file is opened to everyone (exit 4, a warning in
the log). Without control_group only root and the daemon's own user (the
user it dropped to, as ExecReload= runs) are served."""
import grp
import os
import pwd
import stat
import subprocess

import sgtest


def sh(*cmd):
    r = sgtest.run(list(cmd))
    if r.returncode != 0:
        sgtest.skip("%s failed: %s" % (cmd[0], r.stderr.decode()))


def as_user(name, groups=True):
    """setpriv prefix running a command as name, with its groups or none."""
    pw = pwd.getpwnam(name)
    return ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
            "--init-groups" if groups else "--clear-groups", "--"]


def served(d, prefix):
    r = d.ctl("--json", "status", prefix=prefix)
    assert r.returncode == 0 and '"ok":true' in r.stdout, r


def refused(d, prefix, by_daemon):
    r = d.ctl("status", prefix=prefix)
    assert r.returncode == 4, r
    if by_daemon:
        assert "permission denied: uid" in r.stderr, r
    else:
        assert "Permission denied" in r.stderr, r


def test():
    sgtest.require_root("creating users and groups needs root")
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "setpriv"):
        sgtest.require_tool(tool)
    tag = os.getpid() % 100000
    group, member, outsider = "sgctl%d" % tag, "sgin%d" % tag, "sgout%d" % tag
    sh("groupadd", "--system", group)
    try:
        sh("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
           "--groups", group, member)
        sh("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", outsider)
        gid = grp.getgrnam(group).gr_gid
        with sgtest.Daemon(["auth = none", "control_group = " + group]) as d:
            st = os.stat(d.control)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660, oct(
                st.st_mode)
            assert st.st_gid == gid, (st.st_gid, gid)
            served(d, [])
            served(d, as_user(member))
            refused(d, as_user(outsider), by_daemon=False)
            # The file mode is not the only guard.
            os.chmod(d.control, 0o666)
            refused(d, as_user(outsider), by_daemon=True)
            d.wait_log(r"^warning: control socket: permission denied: uid %d is neither root "
                       r"nor a member of group '%s'" % (pwd.getpwnam(outsider).pw_uid, group))
            served(d, as_user(member))
            # The group as the process's own gid counts too.
            out = pwd.getpwnam(outsider)
            served(d, ["setpriv", "--reuid", str(out.pw_uid), "--regid", str(gid),
                       "--clear-groups", "--"])

        # No group: root and the user the daemon runs as, nobody else.
        with sgtest.Daemon(["auth = none", "user = " + member]) as d:
            st = os.stat(d.control)
            assert st.st_uid == pwd.getpwnam(member).pw_uid, st
            assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
            served(d, [])
            served(d, as_user(member))
            os.chmod(d.control, 0o666)
            refused(d, as_user(outsider), by_daemon=True)
            assert "is not root" in d.ctl("status", prefix=as_user(outsider)).stderr
    finally:
        subprocess.run(["userdel", member], capture_output=True)
        subprocess.run(["userdel", outsider], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)


sgtest.main(test)
