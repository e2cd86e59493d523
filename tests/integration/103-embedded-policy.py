#!/usr/bin/python3
"""The built-in default policy sees through IPv6 forms that embed an IPv4
address: IPv4-compatible ::127.0.0.1, NAT64 64:ff9b::/96 and the local-use
64:ff9b:1::/48, 6to4 2002::/16 and the Teredo server address, of loopback and
of 169.254.169.254, are refused with 0x02 and the record names the default
policy and the form. An explicit allow of the IPv6 range still wins. In a
network namespace of the test's own: a gateway that let one through would
send no packet off the machine."""
import sgnet
import sgtest

FORMS = [
    ("::127.0.0.1", "IPv4-compatible ::/96", "loopback"),
    ("64:ff9b::7f00:1", "NAT64 64:ff9b::/96", "loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 64:ff9b::/96", "link-local"),
    ("64:ff9b:1::7f00:1", "NAT64 64:ff9b:1::/48", "loopback"),
    ("2002:7f00:1::", "6to4 2002::/16", "loopback"),
    ("2002:a9fe:a9fe::1", "6to4 2002::/16", "link-local"),
    ("2001:0:7f00:1::", "Teredo 2001::/32", "loopback"),
    ("2001:0:a9fe:a9fe::", "Teredo 2001::/32", "link-local"),
]


def test():
    sgnet.isolate()
    with sgtest.Daemon(["auth = none", "allow to any"], loopback_targets=False) as d:
        for i, (host, form, why) in enumerate(FORMS, 1):
            s, rep, _, _ = sgtest.socks_request(d, host, 80)
            s.close()
            assert rep == 0x02, (host, rep)
            d.wait_log(r"session \d+ ", count=i)
            rec = d.last_session()
            sgtest.log("%s: %s" % (host, rec["reason"]))
            assert rec["reason"].startswith("refused by the built-in default policy (%s "
                                            "destination, inside the %s" % (why, form)), rec
        # Not every address of the prefixes: 8.8.8.8 inside NAT64 is allowed
        # (no route here: network unreachable, not "not allowed").
        s, rep, _, _ = sgtest.socks_request(d, "64:ff9b::808:808", 80)
        s.close()
        assert rep in (0x03, 0x04), rep
    # A rule that names the embedded range opens it, as "to 127.0.0.0/8" opens
    # loopback; the prefix as a whole does not.
    with sgtest.Daemon(["auth = none", "allow to 64:ff9b::/96 port 81",
                        "allow to 64:ff9b::7f00:0/104 port 80"], loopback_targets=False) as d:
        s, rep, _, _ = sgtest.socks_request(d, "64:ff9b::7f00:1", 81)
        s.close()
        assert rep == 0x02, rep
        s, rep, _, _ = sgtest.socks_request(d, "64:ff9b::7f00:1", 80)
        s.close()
        assert rep in (0x03, 0x04), rep


sgtest.main(test)
