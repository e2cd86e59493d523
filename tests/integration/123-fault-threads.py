#!/usr/bin/python3
"""Injected faults: pthread_create fails with EAGAIN as the pool grows
(two workers at start, six clients at once).
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("pthread_create:0.6", want=("pthread_create",))


sgtest.main(test)
