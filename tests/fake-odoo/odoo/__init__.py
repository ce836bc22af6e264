"""A stand-in for Odoo used by odoo-ci's tests. It behaves as real Odoo does for what a CI
runner uses (flags, log lines, test summary, ir_module_module, exit codes), per the project's
docs/odoo-facts.md. It is written to those facts, not to odoo-ci's parser."""
import os

SERIES = os.environ.get("FAKE_ODOO_SERIES", "17.0")
MAJOR = int(SERIES.split(".")[0])
