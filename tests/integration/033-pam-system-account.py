#!/usr/bin/python3
"""As root: a real system account (useradd + chpasswd) logs in through the real
pam_unix stack with the project's pam.d/socksgate service file; after
`chage -E 0` (expired) and after `usermod -L` (locked) it is refused. The
account and the service file are removed afterwards. Concurrent logins
through the stack work too, including with pam_cap (whose auth step puts a
256 KiB array on the stack) when it is installed. Also: started without read
access to /etc/shadow, the daemon says so once at start."""
import os
import signal
import subprocess
import threading

import sgtest

USER = "sgtest%d" % (os.getpid() % 100000)
PASSWORD = "Corr3ct-Horse"


def login(d, port, password=PASSWORD):
    s = sgtest.connect_proxy(d)
    assert sgtest.greet(s, b"\x02") == 2
    r = sgtest.userpass(s, USER, password)
    if r != b"\x01\x00":
        assert sgtest.closed_by_peer(s)
        s.close()
        return False
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", port))
    rep, _, _ = sgtest.read_reply(s)
    s.close()
    return rep == 0


def parallel_logins(d, port, n=24):
    results = []
    lock = threading.Lock()

    def one():
        try:
            ok = login(d, port)
        except OSError as e:
            ok = e
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True] * n, results


def sh(*cmd):
    subprocess.run(cmd, check=True, timeout=30, capture_output=True)


def test():
    sgtest.require_root("real accounts and /etc/pam.d need root")
    for tool in ("useradd", "userdel", "chpasswd", "chage", "usermod", "setpriv"):
        sgtest.require_tool(tool)
    if not os.path.exists("/etc/pam.d/common-auth"):
        sgtest.skip("no Debian common-auth PAM stack")
    service = "socksgate-test-%d" % os.getpid()
    svcfile = os.path.join("/etc/pam.d", service)
    with open(os.path.join(sgtest.TOP_SRCDIR, "pam.d", "socksgate")) as f:
        text = f.read()
    with open(svcfile, "w") as f:
        f.write(text)
    sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER)
    try:
        subprocess.run(["chpasswd"], input=("%s:%s\n" % (USER, PASSWORD)).encode(),
                       check=True, timeout=30)
        conf = ["auth = pam", "pam_service = " + service, "auth_fail_delay = 0",
                "auth_fail_limit = 0"]
        with sgtest.echo_server() as echo, sgtest.Daemon(conf) as d:
            assert login(d, echo.port), "the system account could not log in"
            parallel_logins(d, echo.port)
            assert not login(d, echo.port, "wrong password")
            sh("chage", "-E", "0", USER)
            assert not login(d, echo.port), "an expired account got in"
            sh("chage", "-E", "-1", USER)
            assert login(d, echo.port), "the account did not recover after chage -E -1"
            sh("usermod", "-L", USER)
            # As socksgate.conf(5) says: a locked password keeps working
            # through the credential cache until a reload flushes it.
            assert login(d, echo.port), "the cached login did not stand for the password"
            d.signal(signal.SIGHUP)
            d.wait_log(r"configuration reloaded")
            assert not login(d, echo.port), "a locked account got in"
            recs = [r for r in d.sessions() if r["user"] == USER]
            assert any("pam_acct_mgmt" in (r["reason"] or "") for r in recs), recs
            assert "authentication: username/password through PAM" in d.log()
            assert "/etc/shadow" not in d.log(), "root was told it cannot read /etc/shadow"

        # A stack with pam_cap in its auth phase, as Debian's common-auth has
        # when libpam-cap is installed: parallel logins must not crash.
        if any(os.path.exists(os.path.join(d, "pam_cap.so")) for d in
               ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
                "/lib/security", "/usr/lib/security")):
            sh("usermod", "-U", USER)
            with open(svcfile, "w") as f:
                f.write("auth required pam_unix.so\nauth optional pam_cap.so\n"
                        "account required pam_unix.so\n")
            with sgtest.echo_server() as echo, sgtest.Daemon(conf) as d:
                parallel_logins(d, echo.port)
        else:
            print("pam_cap.so not installed: skipping the pam_cap part")

        # Unprivileged, without the shadow group: one clear warning at start.
        with sgtest.Daemon(conf, cmd_prefix=["setpriv", "--reuid=nobody", "--regid=nogroup",
                                             "--clear-groups", "--"]) as d:
            assert not login(d, 1), "pam_unix checked a password without shadow access"
            lines = d.wait_log(r"without read access to /etc/shadow")
            assert len(lines) == 1
    finally:
        subprocess.run(["userdel", USER], timeout=30, capture_output=True)
        os.unlink(svcfile)


sgtest.main(test)
