#!/usr/bin/python3
import sgtest
sgtest.skip("todo")
