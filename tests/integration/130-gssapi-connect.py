#!/usr/bin/python3
"""The GSSAPI method end to end with a real MIT KDC on loopback: after
kinit alice, an RFC 1961 client (python3-gssapi) offering only 0x01 gets
it, establishes the context, asks for no per-message protection (what curl
asks for) and fetches a page from a loopback HTTP server through CONNECT.
The record names the mapped local account (auth_to_local: alice -> nobody),
the principal and the level; the NEC variant (the level octet unwrapped) is
answered in kind."""
import sggss
import sgtest

BODY = b"hello through kerberos\n" * 100


def fetch(d, port, nec=False):
    with sggss.Client(d) as c:
        level = c.login(sggss.NONE, nec=nec)
        sgtest.check(level == sggss.NONE, "server chose protection %d" % level)
        rep, _, _ = c.request("127.0.0.1", port)
        sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
        c.send(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        page = c.recv_all()
    sgtest.check(page.endswith(b"\r\n\r\n" + BODY), "page: %r" % page[:200])


def test():
    with sggss.realm_and_daemon() as (realm, d), sggss.http_server(BODY) as web:
        fetch(d, web.port)
        d.wait_log(r"session \d+ ")
        rec = d.last_session()
        sgtest.check(rec.get("user") == sggss.LOCAL_USER, "record: %r" % rec)
        sgtest.check(rec.get("auth") == "gssapi", "record: %r" % rec)
        sgtest.check(rec.get("principal") == "alice@" + realm.realm, "record: %r" % rec)
        sgtest.check(rec.get("protection") == "none", "record: %r" % rec)
        sgtest.check(rec.get("reply", "").startswith("0x00"), "record: %r" % rec)
        sgtest.check(int(rec["down"]) >= len(BODY), "record: %r" % rec)

        n = len(d.sessions())
        fetch(d, web.port, nec=True)
        d.wait_log(r"session \d+ ", count=n + 1)
        rec = d.last_session()
        sgtest.check(rec.get("auth") == "gssapi" and rec.get("protection") == "none",
                     "NEC-style record: %r" % rec)


sgtest.main(test)
