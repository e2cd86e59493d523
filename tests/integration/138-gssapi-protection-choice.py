#!/usr/bin/python3
"""RFC 1961 section 4 as gssapi_protection configures it (default: none
alone, so a request for confidentiality is answered with none): the gateway
answers with the level asked for when it accepts it, else with none when
it accepts none, else it aborts (and the record says so). The selective
level 3 is not offered. On a protected session UDP ASSOCIATE is refused
with 0x07 (wrapped datagrams are not implemented); without protection it
is served."""
import sggss
import sgtest


def ask_record(d, level):
    """The level the gateway answers (None when it aborted), and the
    session's record."""
    n = len(d.sessions())
    with sggss.Client(d) as c:
        sgtest.check(c.greet() == 1, "the server did not choose GSSAPI")
        c.establish()
        try:
            answer = c.protection(level)
        except sggss.Refused:
            answer = None
    d.wait_log(r"session \d+ ", count=n + 1)
    return answer, d.last_session()


def ask(d, level):
    return ask_record(d, level)[0]


def test():
    with sggss.realm_and_daemon(extra=["gssapi_protection = confidentiality"]) as (realm, d):
        sgtest.check(ask(d, sggss.CONFIDENTIALITY) == sggss.CONFIDENTIALITY, "conf refused")
        for level in (sggss.NONE, sggss.INTEGRITY, 3):
            answer, rec = ask_record(d, level)
            sgtest.check(answer is None, "level %d was accepted" % level)
            sgtest.check("gssapi_protection does not offer" in (rec["reason"] or ""),
                         "record: %r" % rec)

    with sggss.realm_and_daemon() as (realm, d):  # the default: none alone
        sgtest.check(ask(d, sggss.CONFIDENTIALITY) == sggss.NONE, "default: not none")
    with sggss.realm_and_daemon(extra=["gssapi_protection = none integrity"]) as (realm, d):
        sgtest.check(ask(d, sggss.CONFIDENTIALITY) == sggss.NONE, "not answered with none")
        sgtest.check(ask(d, 3) == sggss.NONE, "selective not answered with none")
        sgtest.check(ask(d, sggss.INTEGRITY) == sggss.INTEGRITY, "integrity refused")

        with sggss.Client(d) as c:
            c.login(sggss.INTEGRITY)
            rep, _, _ = c.request("127.0.0.1", 0, cmd=3)
            sgtest.check(rep == 0x07, "UDP ASSOCIATE on a protected session: 0x%02x" % rep)
        d.wait_log(r"reason=UDP ASSOCIATE is not offered on a GSSAPI session")
        with sggss.Client(d) as c:
            c.login(sggss.NONE)
            rep, _, _ = c.request("127.0.0.1", 0, cmd=3)
            sgtest.check(rep == 0, "UDP ASSOCIATE without protection: 0x%02x" % rep)


sgtest.main(test)
