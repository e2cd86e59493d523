#!/usr/bin/python3
"""curl --socks5-gssapi against the gateway, to record what a packaged
client does (README's client table). Debian 12's curl 7.88.1 offers 0x00
0x01 and, when the method reply is not there at once, forgets that it
asked for GSSAPI: it fails with "SOCKS5 GSSAPI per-message authentication
is not supported" (exit 97) before sending a token, and the gateway's
record says the client closed during the context token. When the reply is
there at once (a loaded machine's scheduling decides), it completes the
context and the protection level, then fails with "Undocumented SOCKS5
mode attempted" (exit 97) instead of sending its request. A curl that
completes the method (it then asks for no protection) must fetch the page;
one that fails must fail that way, with nothing unexpected on our side."""
import os
import re
import subprocess

import sggss
import sgtest

BODY = b"curl through kerberos\n"


def test():
    sgtest.require_tool("curl")
    with sggss.realm_and_daemon(methods="gssapi") as (realm, d), \
            sggss.http_server(BODY) as web:
        version = sgtest.run(["curl", "--version"]).stdout.decode().split()[1]
        for nec in ([], ["--socks5-gssapi-nec"]):
            n = len(d.sessions())
            # The service's full name: curl would otherwise ask for
            # rcmd/127.0.0.1, the host part of the proxy URL.
            r = subprocess.run(["curl", "-sS", "--max-time", "15", "--socks5-gssapi",
                                "--socks5-gssapi-service", "rcmd/" + realm.host] + nec +
                               ["--proxy", "socks5h://127.0.0.1:%d" % d.port,
                                "http://127.0.0.1:%d/" % web.port],
                               capture_output=True, timeout=60, env=dict(os.environ))
            d.wait_log(r"session \d+ ", count=n + 1)
            rec = d.last_session()
            sgtest.log("curl %s %s: exit %d %s; record %r" % (
                version, " ".join(nec), r.returncode, r.stderr.decode().strip(), rec))
            if r.returncode == 0:
                sgtest.check(r.stdout == BODY, "curl fetched %r" % r.stdout)
                sgtest.check(rec.get("auth") == "gssapi" and rec.get("protection") == "none",
                             "record: %r" % rec)
                continue
            sgtest.check(r.returncode == 97 and re.search(
                rb"GSSAPI per-message authentication is not supported|Undocumented SOCKS5 mode",
                r.stderr), "curl failed otherwise: %d %r" % (r.returncode, r.stderr))
            sgtest.check(re.search(r"client closed during the (GSSAPI context token|request)",
                                   rec["reason"] or ""), "record: %r" % rec)
            if b"Undocumented" in r.stderr:  # it got through the method first
                sgtest.check(rec.get("principal") == "alice@" + realm.realm and
                             rec.get("protection") == "none", "record: %r" % rec)


sgtest.main(test)
