#!/usr/bin/python3
"""A principal that maps to no local account is refused with the abort
message (0x01 0xff), and the record says why: carol@REALM has a ticket
and a good context, but the default auth_to_local rule maps her to
'carol', which no account is; with gssapi_realm set, a principal of
another form (a service principal) is refused the same way."""
import sggss
import sgkrb5
import sgtest

USER = "sgcarol"


def refused(d, realm, ccache, reason_part):
    n = len(d.sessions())
    realm.activate(ccache)
    with sggss.Client(d) as c:
        sgtest.check(c.greet() == 1, "the server did not choose GSSAPI")
        try:
            c.establish()
            c.protection(sggss.NONE)
            raise AssertionError("a principal without an account got in")
        except sggss.Refused:
            pass
    d.wait_log(r"session \d+ ", count=n + 1)
    rec = d.last_session()
    sgtest.check(reason_part in (rec["reason"] or ""), "record: %r" % rec)
    sgtest.check(rec.get("reply") == "-" and "auth" not in rec, "record: %r" % rec)
    return rec


def test():
    with sggss.realm_and_daemon() as (realm, d):
        sgtest.check(sgtest.run(["getent", "passwd", USER]).returncode != 0,
                     USER + " exists on this machine")
        realm.addprinc(USER, password="carol-pw")
        carol = realm.dir + "/carol.ccache"
        realm.kinit(USER, "carol-pw", ccache="FILE:" + carol)
        rec = refused(d, realm, "FILE:" + carol, "which is no local account")
        sgtest.check(rec.get("principal") == "%s@%s" % (USER, realm.realm), "record: %r" % rec)
        # fail2ban's line names the principal when there is no account.
        d.wait_log(r"authentication failure for %s@%s from 127\.0\.0\.1" % (USER, realm.realm))

    # gssapi_realm: only NAME@REALM with one component is a user.
    with sggss.realm_and_daemon(extra=["gssapi_realm = " + sgkrb5.REALM]) as (realm, d):
        realm.addprinc("svc/box", password="svc-pw")
        svc = "FILE:" + realm.dir + "/svc.ccache"
        realm.kinit("svc/box", "svc-pw", ccache=svc)
        refused(d, realm, svc, "is not a user principal")
        # alice is stripped to 'alice', no account either (her mapping to
        # nobody is an auth_to_local rule, which gssapi_realm bypasses).
        refused(d, realm, realm.ccache, "'alice', which is no local account")


sgtest.main(test)
