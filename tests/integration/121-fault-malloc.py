#!/usr/bin/python3
"""Injected faults: malloc (and calloc, realloc) fails now and then in the
running daemon, in its own code and in glibc's, libpam's and the modules'.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards."""
import sgfault
import sgtest


def test():
    sgfault.scenario("malloc:0.25", want=("malloc",))


sgtest.main(test)
