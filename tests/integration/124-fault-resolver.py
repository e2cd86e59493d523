#!/usr/bin/python3
"""Injected faults: getaddrinfo fails with EAI_AGAIN for CONNECT to a name.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("getaddrinfo:0.5", want=("getaddrinfo",))


sgtest.main(test)
