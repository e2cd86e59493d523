#!/usr/bin/python3
"""GSSAPI and username/password on the same listener. With the default
order (methods = userpass gssapi) a client offering 0x00 0x01 0x02, as
curl does, gets userpass, and its login works; one offering only 0x01 gets
GSSAPI. With methods = gssapi userpass the same offer gets GSSAPI. The
rules see the mapped account: a deny rule for user nobody refuses alice's
Kerberos session (0x02), while the password user is let through."""
import sggss
import sgtest

PW_USER, PW = "bob", "bob-pw"


def test():
    with sgtest.echo_server() as echo:
        deny = "deny user %s to 127.0.0.1 port %d" % (sggss.LOCAL_USER, echo.port)
        with sggss.realm_and_daemon(methods="userpass gssapi", extra=[deny],
                                    pam_users={PW_USER: PW}) as (realm, d):
            s = sgtest.connect_proxy(d)
            with s:
                sgtest.check(sgtest.greet(s, b"\x00\x01\x02") == 2, "curl's offer: not userpass")
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user=PW_USER,
                                                password=PW)
            with s:
                sgtest.check(rep == 0, "userpass CONNECT: 0x%02x" % rep)
                s.sendall(b"ping")
                sgtest.check(sgtest.recv_exact(s, 4) == b"ping", "no echo")
            with sggss.Client(d) as c:
                c.login(sggss.NONE)
                rep, _, _ = c.request("127.0.0.1", echo.port)
                sgtest.check(rep == 0x02, "the rule for the mapped user did not apply: 0x%02x"
                             % rep)
            d.wait_log(r"session \d+ .*principal=alice@.*reply=0x02")

        with sggss.realm_and_daemon(methods="gssapi userpass", pam_users={PW_USER: PW}) \
                as (realm, d):
            with sggss.Client(d) as c:
                sgtest.check(c.greet(b"\x00\x01\x02") == 1, "the offer did not get gssapi")
                c.establish()
                c.protection(sggss.NONE)
                rep, _, _ = c.request("127.0.0.1", echo.port)
                sgtest.check(rep == 0, "CONNECT 0x%02x" % rep)
                c.send(b"pong")
                sgtest.check(c.recv_exact(4) == b"pong", "no echo")


sgtest.main(test)
