#!/usr/bin/python3
"""The official image's wait-for-psql.py (odoo/docker, 16.0 and 18.0): connect to database
`postgres` with the given flags, or with the `[options]` of $ODOO_RC when given none, until
it answers or `--timeout` seconds pass; then fail the container."""
import argparse
import configparser
import os
import sys
import time

import psycopg2

parser = argparse.ArgumentParser()
parser.add_argument("--db_host")
parser.add_argument("--db_port")
parser.add_argument("--db_user")
parser.add_argument("--db_password")
parser.add_argument("--timeout", type=int, default=5)
args = parser.parse_args()

config = configparser.ConfigParser()
config.read(os.environ.get("ODOO_RC", "/etc/odoo/odoo.conf"))


def setting(name, fallback):
    given = getattr(args, name)
    return given if given is not None else config.get("options", name, fallback=fallback)


start = time.time()
error = ""
while time.time() - start < args.timeout:
    try:
        psycopg2.connect(
            user=setting("db_user", "odoo"), host=setting("db_host", "localhost"),
            port=setting("db_port", "5432"), password=setting("db_password", "odoo"),
            dbname="postgres").close()
        break
    except psycopg2.OperationalError as e:
        error = e
        time.sleep(1)
else:
    print("Database connection failure: %s" % error, file=sys.stderr)
    sys.exit(1)
