#!/usr/bin/python3
"""The gateway's keytab must hold the key the client's ticket was made
for. A keytab with only another service's key (rcmd/other...), and one
holding an older key version of the right principal (re-keyed since), are
refused with the abort message and the GSS major/minor status in the
record; a keytab file that does not exist is the operator's problem: an
error in the log and the abort for the client."""
import os
import re
import shutil

import sggss
import sgkrb5
import sgtest


def refused(d, reason_part):
    n = len(d.sessions())
    with sggss.Client(d) as c:
        sgtest.check(c.greet() == 1, "the server did not choose GSSAPI")
        try:
            c.establish()
            raise AssertionError("the context was established with a wrong keytab")
        except sggss.Refused:
            pass
    d.wait_log(r"session \d+ ", count=n + 1)
    rec = d.last_session()
    sgtest.check(reason_part in (rec["reason"] or ""), "record: %r" % rec)
    sgtest.check("major 0x" in rec["reason"], "no GSS major/minor in %r" % rec)
    return rec


def test():
    sgkrb5.require()
    with sgkrb5.Realm() as realm:
        sggss.setup_realm(realm)
        env = sggss.daemon_env(realm)
        # MIT krb5 1.20.1's gss_acquire_cred_from() leaks the acceptor
        # principal it built (krb5_build_principal_alloc_va, about 100
        # bytes) when the keytab has no key for it, each time: the
        # library's, not ours, and only in this misconfiguration.
        supp = os.path.join(realm.dir, "lsan.supp")
        with open(supp, "w") as f:
            f.write("leak:krb5_build_principal_alloc_va\nleak:libkrb5.so.3\n")
        env["LSAN_OPTIONS"] = "suppressions=" + supp
        other = os.path.join(realm.dir, "other.keytab")
        realm.addprinc("rcmd/other.socksgate.test")
        realm.ktadd("rcmd/other.socksgate.test", keytab=other)
        old = os.path.join(realm.dir, "old.keytab")
        shutil.copy(realm.keytab, old)

        conf = [l for l in sggss.daemon_config(realm) if not l.startswith("gssapi_")]
        host = "gssapi_hostname = " + realm.host
        # For rcmd@gateway, the other keytab has nothing: the acceptor fails.
        with sgtest.Daemon(conf + [host, "gssapi_keytab = " + other], env=env) as d:
            refused(d, "acquiring the acceptor credentials")
            d.wait_log(r"error: GSSAPI: acquiring the acceptor credentials")
            sgtest.check(not re.search(r"PAM service '[^']*' failed", d.log()),
                         "blamed PAM:\n" + d.log())
        # For any rcmd host it has a key, not the one of alice's ticket.
        with sgtest.Daemon(conf + ["gssapi_keytab = " + other], env=env) as d:
            refused(d, "gss_accept_sec_context")
        # Re-keyed: alice's ticket (got now) is for the new key version.
        realm.ktadd("rcmd/" + realm.host)
        realm.kinit("alice", "alice-pw")
        with sgtest.Daemon(conf + [host, "gssapi_keytab = " + old], env=env) as d:
            refused(d, "gss_accept_sec_context")
        with sgtest.Daemon(conf + [host, "gssapi_keytab = " + realm.dir + "/missing.keytab"],
                           env=env) as d:
            sgtest.check("every GSSAPI login will fail" in d.log(), "no warning at start:\n" +
                         d.log())
            refused(d, "acquiring the acceptor credentials")

sgtest.main(test)
