#!/usr/bin/python3
"""As root: a "group" rule with a real system group (groupadd/useradd):
a member (supplementary group) and a user whose primary group it is get
through; a non-member is refused with 0x02 naming the final deny. Logins go
through pam_wrapper, the group lookup through NSS. Everything created is
removed afterwards."""
import os
import subprocess

import sgtest

TAG = os.getpid() % 100000
GROUP = "sggrp%d" % TAG
MEMBER, PRIMARY, OUTSIDER = "sgmem%d" % TAG, "sgpri%d" % TAG, "sgout%d" % TAG


def sh(*cmd):
    subprocess.run(cmd, check=True, timeout=30, capture_output=True)


def request(d, user, port):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port, user=user, password="pw")
    s.close()
    return rep


def test():
    sgtest.require_root("creating a group and accounts needs root")
    for tool in ("groupadd", "groupdel", "useradd", "userdel"):
        sgtest.require_tool(tool)
    env = sgtest.pam_wrapper_env({MEMBER: "pw", PRIMARY: "pw", OUTSIDER: "pw"})
    created = []
    try:
        sh("groupadd", GROUP)
        created.append(("groupdel", GROUP))
        for user, opts in ((MEMBER, ["-G", GROUP]), (PRIMARY, ["-g", GROUP]),
                           (OUTSIDER, ["-U"])):
            sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", *opts, user)
            created.insert(0, ("userdel", user))
        with sgtest.echo_server() as echo:
            rule = "allow group %s,nosuchgroup%d to 127.0.0.0/8" % (GROUP, TAG)
            conf = ["auth = pam", "auth_fail_delay = 0", rule, "deny"]
            with sgtest.Daemon(conf, env=env, loopback_targets=False) as d:
                assert request(d, MEMBER, echo.port) == 0
                assert request(d, PRIMARY, echo.port) == 0
                assert request(d, OUTSIDER, echo.port) == 0x02
                assert request(d, MEMBER, echo.port) == 0	# from the cache
                d.wait_log(r"session \d+ ", count=4)
                out = [r for r in d.sessions() if r["user"] == OUTSIDER]
                assert out[0]["reason"] == "refused by rule %s:%d" % (
                    d.conf, d.line_of("deny")), out
    finally:
        for cmd, name in created:	# users first, then their group
            subprocess.run([cmd, name], timeout=30, capture_output=True)


sgtest.main(test)
