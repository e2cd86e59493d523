#!/usr/bin/python3
"""As root, a real account behind a principal of the same name, checked by
the project's PAM stack (pam_unix's account step): it gets in; after
`chage -E 0` (expired) it is refused with the abort message and a record
naming pam_acct_mgmt; after `chage -E -1` it gets in again. The account
and the PAM service file are removed afterwards."""
import os

import sgauth
import sggss
import sgkrb5
import sgtest

USER = "sgkexp%d" % (os.getpid() % 100000)


def attempt(d):
    """True when the GSSAPI login went through; returns (ok, record)."""
    n = len(d.sessions())
    ok = True
    with sggss.Client(d) as c:
        try:
            c.login(sggss.NONE)
        except sggss.Refused:
            ok = False
    d.wait_log(r"session \d+ ", count=n + 1)
    return ok, d.last_session()


def test():
    sgtest.require_root("a real account and /etc/pam.d need root")
    sgkrb5.require()
    service = sgauth.project_pam_service()
    with sgauth.SystemAccounts({USER: "Unused-pw-1"}), sgkrb5.Realm() as realm:
        sggss.setup_realm(realm)
        realm.addprinc(USER, password="pw-" + USER)
        realm.kinit(USER, "pw-" + USER)
        env = realm.env()
        with sgtest.Daemon(sggss.daemon_config(realm) + ["pam_service = " + service],
                           env=env) as d:
            ok, rec = attempt(d)
            sgtest.check(ok and rec.get("user") == USER, "the account could not get in: %r" % rec)
            sgauth.sh("chage", "-E", "0", USER)
            ok, rec = attempt(d)
            sgtest.check(not ok, "an expired account got in: %r" % rec)
            sgtest.check("pam_acct_mgmt" in (rec["reason"] or ""), "record: %r" % rec)
            sgtest.check(rec.get("principal") == "%s@%s" % (USER, realm.realm), "record: %r" % rec)
            sgauth.sh("chage", "-E", "-1", USER)
            ok, rec = attempt(d)
            sgtest.check(ok, "the account did not recover after chage -E -1: %r" % rec)


sgtest.main(test)
