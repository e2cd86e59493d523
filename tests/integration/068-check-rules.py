#!/usr/bin/python3
"""socksgate -t prints the effective rule list: each rule in canonical form
with its FILE:LINE (client rules marked), then the built-in default; the
output is itself a configuration with the same rules. Broken rules are
reported as FILE:LINE: message, every one of them."""
import os
import re
import tempfile

import sgtest


def run(*args):
    r = sgtest.run([sgtest.SOCKSGATE] + list(args), timeout=10)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def rules_of(text):
    return [l.split("#", 1)[0].strip() for l in text.splitlines()
            if re.match(r"(allow|deny)\b", l)]


def test():
    tmp = tempfile.mkdtemp(prefix="socksgate-test-")
    conf = os.path.join(tmp, "rules.conf")
    with open(conf, "w") as f:
        f.write("auth = none\n"
                "allow from 10.0.0.0/8, 192.168.0.0/16\n"     # 2
                "deny   from any\n"                            # 3
                "allow group staff to any port 80,443\n"       # 4
                "allow group admin to 10.0.0.0/8\n"            # 5
                "deny to .Corp.Example port 8000-8080\n"       # 6
                "max_sessions_per_user = 50\n"
                "deny\n")                                      # 8
    rc, out, err = run("-t", "-c", conf)
    assert rc == 0, (rc, out, err)
    want = [("allow from 10.0.0.0/8,192.168.0.0/16", "client rule, %s:2" % conf),
            ("deny from any", "client rule, %s:3" % conf),
            ("allow group staff to any port 80,443", "%s:4" % conf),
            ("allow group admin to 10.0.0.0/8", "%s:5" % conf),
            ("deny to .corp.example port 8000-8080", "%s:6" % conf),
            ("deny", "%s:8" % conf)]
    for rule, where in want:
        assert "%s\t# %s\n" % (rule, where) in out, (rule, out)
    assert rules_of(out) == [r for r, _ in want], out
    assert "max_sessions_per_user = 50" in out
    default = out[out.index("Built-in default"):]
    for net in ("127.0.0.0/8", "::1", "169.254.0.0/16", "fe80::/10", "224.0.0.0/4",
                "ff00::/8", "0.0.0.0/8", "255.255.255.255"):
        assert "#   deny to %s\t(" % net in default, (net, default)
    assert "(the gateway's own address)" in default, default
    assert default.rstrip().endswith("#   allow\n# configuration OK".rstrip()), default

    again = os.path.join(tmp, "again.conf")
    with open(again, "w") as f:
        f.write(out)
    rc, out2, err = run("-t", "-c", again)
    assert rc == 0, err
    assert rules_of(out2) == rules_of(out)

    with open(conf, "w") as f:
        f.write("allow to any\n"            # 1
                "allow to 10.0.0.1/8\n"     # 2
                "deny port 80 port 81\n"    # 3
                "allow\tuser\n"             # 4
                "deny fromm 1.2.3.4\n"      # 5
                "allowed = 1\n")            # 6
    rc, out, err = run("-t", "-c", conf)
    assert rc == 1 and "configuration OK" not in out, (rc, out, err)
    got = [int(m) for m in re.findall(r"^%s:(\d+): \S.*$" % re.escape(conf), err, re.M)]
    assert got == [2, 3, 4, 5, 6], err
    for word in ("10.0.0.1/8", "twice", "'user' needs a value", "fromm", "allowed"):
        assert word in err, (word, err)


sgtest.main(test)
