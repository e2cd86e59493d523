#!/usr/bin/python3
"""Injected faults: splice fails with ENOMEM in the middle of relayed
data, and pipe2 sometimes, so that both relay modes meet failures.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("splice:0.05,pipe2:0.2", want=("splice",))


sgtest.main(test)
