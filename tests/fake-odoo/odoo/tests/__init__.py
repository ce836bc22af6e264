from .common import TransactionCase, tagged  # noqa: F401
