#!/usr/bin/python3
"""socksgatectl reload is synchronous and tells the truth: a broken file
exits 1 with every FILE:LINE error (text and --json), the daemon keeps
serving on the old configuration (a live session relays on, a new one gets
the old rules), status and STATUS= say "last reload failed: FILE:LINE ..."
until a good reload, which exits 0 and is in force when it returns."""
import os
import re
import shutil
import socket
import tempfile

import sgtest


def last_status(sock):
    """The last STATUS= among the notifications waiting on sock."""
    status = None
    while True:
        try:
            msg = sock.recv(4096).decode()
        except BlockingIOError:
            return status
        for line in msg.splitlines():
            if line.startswith("STATUS="):
                status = line[len("STATUS="):]


def test():
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    tmp = tempfile.mkdtemp(prefix="socksgate-notify-")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(tmp, "notify"))
    notify.setblocking(False)
    env["NOTIFY_SOCKET"] = os.path.join(tmp, "notify")
    try:
        with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"], env=env) as d:
            live, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
            assert rep == 0, rep
            with live:
                d.rewrite(["auth = none", "workers_min = lots", "bogus_key = 1"])
                n = len(d.head)
                errors = ["%s:%d: workers_min: 'lots'" % (d.conf, n + 2),
                          "%s:%d: unknown key 'bogus_key'" % (d.conf, n + 3)]
                r = d.ctl("reload")
                assert r.returncode == 1, r
                assert "reload refused" in r.stderr, r
                for e in errors:
                    assert re.search(r"^  %s" % re.escape(e), r.stderr, re.M), (e, r.stderr)
                ans = d.ctl_json("reload", expect_rc=1)
                assert ans["ok"] is True and ans["applied"] is False, ans
                assert ans["error_count"] == 2 and len(ans["errors"]) == 2, ans
                for got, want in zip(ans["errors"], errors):
                    assert got.startswith(want), (got, want)
                # Still the old configuration: no authentication, and the live
                # session relays on.
                s = sgtest.connect_proxy(d)
                assert sgtest.greet(s, b"\x00") == 0, "the refused config took effect"
                s.close()
                live.sendall(b"still")
                assert sgtest.recv_exact(live, 5) == b"still"
                st = d.ctl_json("status")
                assert st["last_reload"]["applied"] is False, st
                assert st["last_reload"]["errors"][0].startswith(errors[0]), st
                assert "REFUSED, 2 errors" in d.ctl("status").stdout
                status = last_status(notify)
                assert status is not None and re.match(
                    r"last reload failed: %s.* \(and 1 more\); 1 active session" % re.escape(
                        errors[0]), status), status

                # A good one: in force as soon as socksgatectl returns.
                d.rewrite(["auth = pam", "auth_fail_delay = 0"])
                r = d.ctl("reload")
                assert r.returncode == 0 and "configuration reloaded" in r.stdout, r
                s = sgtest.connect_proxy(d)
                assert sgtest.greet(s, b"\x00") == 0xFF, "the new config is not in force"
                s.close()
                st = d.ctl_json("status")
                assert st["last_reload"]["applied"] is True, st
                assert st["last_reload"]["errors"] == [], st
                status = last_status(notify)
                assert status is not None and not status.startswith("last reload"), status
                live.sendall(b"x")
                assert sgtest.recv_exact(live, 1) == b"x"
            assert len(re.findall(r"asked for 'reload'", d.log())) == 3, d.log()
    finally:
        notify.close()
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
