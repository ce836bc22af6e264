from .common import HttpCase, TransactionCase, tagged  # noqa: F401
