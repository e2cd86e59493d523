#!/usr/bin/python3
"""Clients that get the GSSAPI method wrong: a context token that is not
one (random bytes), a frame of the wrong version or type, a zero length, a
token cut short by the client's close, and a client without a ticket
(which aborts itself, 0x01 0xff). Each ends with a record saying why, the
first three with the abort message from the gateway; none crashes or hangs
the daemon, which still serves alice afterwards."""
import os
import struct

import sggss
import sgtest


def one(d, send, reason_part, expect_abort=True):
    n = len(d.sessions())
    s = sgtest.connect_proxy(d)
    with s:
        sgtest.check(sgtest.greet(s, b"\x01") == 1, "the server did not choose GSSAPI")
        s.sendall(send)
        if expect_abort:
            sgtest.check(sgtest.recv_exact(s, 2) == b"\x01\xff", "no abort message")
        sgtest.check(sgtest.closed_by_peer(s), "the connection stayed open")
    d.wait_log(r"session \d+ ", count=n + 1)
    rec = d.last_session()
    sgtest.check(reason_part in (rec["reason"] or ""), "record: %r" % rec)
    return rec


def test():
    with sggss.realm_and_daemon() as (realm, d):
        rec = one(d, sggss.frame(sggss.AUTH, os.urandom(200)), "gss_accept_sec_context")
        sgtest.check("major 0x" in rec["reason"], "no GSS status: %r" % rec)
        one(d, b"\x02\x01\x00\x04abcd", "not version 1")
        one(d, b"\x01\x03\x00\x04abcd", "unexpected message type")
        one(d, b"\x01\x01\x00\x00", "zero length")
        # A token announced as 65535 bytes, 10 sent, then the client's EOF.
        s = sgtest.connect_proxy(d)
        n = len(d.sessions())
        with s:
            sgtest.greet(s, b"\x01")
            s.sendall(b"\x01\x01" + struct.pack("!H", 65535) + b"x" * 10)
            s.shutdown(sgtest.socket.SHUT_WR)
            sgtest.check(sgtest.closed_by_peer(s), "the connection stayed open")
        d.wait_log(r"session \d+ ", count=n + 1)
        rec = d.last_session()
        sgtest.check("client closed during the GSSAPI context token" in rec["reason"],
                     "record: %r" % rec)

        # No ticket: the client cannot make a token and aborts.
        realm.kdestroy()
        n = len(d.sessions())
        with sggss.Client(d) as c:
            sgtest.check(c.greet() == 1, "the server did not choose GSSAPI")
            try:
                c.establish()
                raise AssertionError("a context without a ticket")
            except c.gssapi.exceptions.GSSError:
                pass
            sgtest.check(sgtest.closed_by_peer(c.s), "the connection stayed open")
        d.wait_log(r"session \d+ ", count=n + 1)
        rec = d.last_session()
        sgtest.check("client aborted the GSSAPI exchange" in (rec["reason"] or ""),
                     "record: %r" % rec)

        realm.kinit("alice", "alice-pw")
        with sggss.Client(d) as c:
            sgtest.check(c.login(sggss.NONE) == sggss.NONE, "alice no longer gets in")


sgtest.main(test)
