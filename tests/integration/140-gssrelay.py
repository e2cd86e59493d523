#!/usr/bin/python3
"""The protected relay of the GSSAPI method (RFC 1961 section 5, gssrelay_run)
with real MIT krb5 contexts: tests/gss/gsspair establishes an initiator
context from alice's ticket and an acceptor one from the gateway's keytab in
a throwaway realm, then relays between them over socketpairs: 16 MiB each
way at once keeps its sha256 under integrity and under confidentiality;
half-close both ways; and a bogus token, an abort, a truncated frame, the
longest length over junk, a zero length, a wrong version or type, an
integrity-only token on a confidentiality session, a replayed and a missing
token each end the relay with the errno and fault gssrelay.h promises, after
what came before them was delivered and nothing after."""
import os
import subprocess

import sgkrb5
import sgtest


def test():
    sgkrb5.require()
    driver = os.path.join(os.environ.get("TOP_BUILDDIR", "."), "tests", "gss", "gsspair")
    if not os.access(driver, os.X_OK):
        raise AssertionError(driver + " is not built (make check builds it)")
    service = sgkrb5.SERVICE + "/" + sgkrb5.HOST
    with sgkrb5.Realm() as realm:
        realm.addprinc("alice", password="alice-pw")
        realm.addprinc(service)
        keytab = realm.ktadd(service)
        realm.kinit("alice", "alice-pw")
        env = dict(os.environ, **realm.env(keytab=keytab))
        p = subprocess.run([driver, sgkrb5.SERVICE + "@" + sgkrb5.HOST], env=env,
                           capture_output=True, timeout=300)
        out = p.stdout.decode(errors="replace")
        err = p.stderr.decode(errors="replace")
        sgtest.log(out + err)
        assert p.returncode == 0, "gsspair exited %d" % p.returncode
        # Every case reported, none failed (the driver counts its own).
        lines = out.splitlines()
        for case in ("bulk conf=0", "bulk conf=1", "half-close, client first",
                     "half-close, destination first", "bogus token", "abort",
                     "truncated frame", "oversize length", "zero length", "bad version",
                     "bad type", "integrity-only token", "replayed token", "missing token",
                     "integrity session", "idle timeout"):
            assert any(l.startswith("ok " + case) for l in lines), "no pass for " + case
        assert not any(l.startswith("not ok") for l in lines)
        assert lines[-1].endswith(": 0 failed") and "FAIL" not in err


if __name__ == "__main__":
    sgtest.main(test)
