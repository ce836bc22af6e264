"""What addon tests import: `TransactionCase` and `tagged`."""
import unittest

ENV = {}


def tagged(*tags):
    """Odoo's decorator: `standard` and `at_install` by default, `-tag` removes one."""
    def decorate(cls):
        current = set(getattr(cls, "test_tags", {"standard", "at_install"}))
        for tag in tags:
            if tag.startswith("-"):
                current.discard(tag[1:])
            else:
                current.add(tag)
        cls.test_tags = current
        return cls
    return decorate


class Env(dict):
    """A tiny `self.env`: `self.env.cr` is a psycopg2 cursor on the test database."""

    @property
    def cr(self):
        return self["cr"]


class TransactionCase(unittest.TestCase):
    test_tags = {"standard", "at_install"}

    @property
    def env(self):
        return Env(ENV)
