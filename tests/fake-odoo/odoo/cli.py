"""odoo-bin for the fake Odoo: server mode (install, update, tests, HTTP health) and
`neutralize`. Flags, log format, summary lines, tables and exit codes follow real Odoo."""
import argparse
import ast
import hashlib
import http.server
import importlib
import logging
import os
import re
import sys
import threading
import time
import uuid
import traceback
import unittest
import xml.etree.ElementTree as ET

import odoo
import odoo.addons as odoo_addons
import odoo.tools
from odoo import assets
from odoo.tests import common

_logger = logging.getLogger("odoo")
DBNAME = "?"

# Modules that come with Odoo itself (the base image), with their dependencies.
BUILTIN = {
    "base": [],
    "web": ["base"],
    "mail": ["base", "web"],
    "contacts": ["mail"],
    "product": ["mail"],
    "sale": ["product"],
    "stock": ["product"],
    "account": ["product"],
    "payment": ["account"],
    "fetchmail": ["mail"],
}


# --- logging -------------------------------------------------------------------------
class OdooFormatter(logging.Formatter):
    def format(self, record):
        record.pid = os.getpid()
        record.dbname = DBNAME
        record.perf_info = ""
        return super().format(record)

    def formatTime(self, record, datefmt=None):
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%d %H:%M:%S", t) + ",%03d" % record.msecs


def setup_logging(logfile, level):
    # odoo/netsvc.py: Odoo's RUNBOT level (25) is displayed as INFO.
    logging.addLevelName(25, "INFO")
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(OdooFormatter(
        "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(getattr(logging, (level or "info").upper(), logging.INFO))


# --- arguments -----------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(prog="odoo")
    p.add_argument("-c", "--config")
    p.add_argument("-d", "--database")
    p.add_argument("-i", "--init", default="")
    p.add_argument("-u", "--update", default="")
    p.add_argument("--addons-path")
    p.add_argument("--db_host", default=os.environ.get("PGHOST") if odoo.MAJOR >= 19 else None)
    p.add_argument("--db_port", default=os.environ.get("PGPORT") if odoo.MAJOR >= 19 else None)
    p.add_argument("-r", "--db_user", default=os.environ.get("PGUSER") if odoo.MAJOR >= 19 else None)
    p.add_argument("-w", "--db_password", default=os.environ.get("PGPASSWORD") if odoo.MAJOR >= 19 else None)
    p.add_argument("--db_sslmode", default="prefer")
    p.add_argument("--db-template", default="template0")
    p.add_argument("-p", "--http-port", type=int, default=8069)
    p.add_argument("--no-http", action="store_true")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--max-cron-threads", type=int, default=2)
    # odoo/tools/config.py: the fallback SMTP server when no ir.mail_server is active.
    p.add_argument("--smtp", dest="smtp_server", default="localhost")
    p.add_argument("--smtp-port", dest="smtp_port", type=int, default=25)
    p.add_argument("--logfile")
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-handler", action="append", default=[])
    p.add_argument("--stop-after-init", action="store_true")
    p.add_argument("--test-enable", action="store_true")
    p.add_argument("--test-tags")
    p.add_argument("--test-file")
    p.add_argument("-D", "--data-dir")
    p.add_argument("--screenshots", default=common.CONFIG["screenshots"])
    if odoo.MAJOR >= 19:
        p.add_argument("--with-demo", action="store_true")
        p.add_argument("--skip-auto-install", action="store_true")
    else:
        p.add_argument("--without-demo", default="")
    args = p.parse_args(argv)
    apply_config_file(args)
    if args.test_tags is not None or args.test_enable:
        args.test_enable = True
        if odoo.MAJOR >= 19:
            args.stop_after_init = True
    return args


# Options a config file may set, as odoo/tools/config.py reads them: a value given on the
# command line wins even when empty ("if getattr(opt, arg) is not None"); otherwise the file's
# value is used as written and cast to the option's type.
CONFIG_OPTIONS = {"db_host": str, "db_port": int, "db_user": str, "db_password": str,
                  "addons_path": str, "data_dir": str}


def apply_config_file(args):
    import configparser
    path = args.config or os.environ.get("ODOO_RC")
    parser = configparser.RawConfigParser()
    if path:
        parser.read(path)
    for name, cast in CONFIG_OPTIONS.items():
        if getattr(args, name) is not None:
            continue
        if parser.has_option("options", name):
            value = parser.get("options", name)
            # A bad value stops Odoo at start, as an unparsable option does.
            setattr(args, name, cast(value) if value not in ("False", "") else None)
    if args.addons_path is None:
        args.addons_path = ""
    if args.data_dir is None:
        args.data_dir = os.path.expanduser("~/.local/share/Odoo")


# --- database ------------------------------------------------------------------------
def connect(args, dbname):
    import psycopg2
    conn = psycopg2.connect(
        dbname=dbname, host=args.db_host or None, port=args.db_port or None,
        user=args.db_user or None, password=args.db_password or None)
    conn.autocommit = True
    return conn


SCHEMA = """
CREATE TABLE IF NOT EXISTS ir_module_module (
    id serial PRIMARY KEY, name varchar UNIQUE NOT NULL, state varchar NOT NULL,
    latest_version varchar, demo boolean DEFAULT false, auto_install boolean DEFAULT false);
"""

# The tables each builtin module owns (the columns a runner reads or neutralization writes),
# created when the module is installed, as Odoo's ORM does.
MODULE_SCHEMA = {
    "base": """
CREATE TABLE IF NOT EXISTS ir_config_parameter (
    id serial PRIMARY KEY, key varchar UNIQUE NOT NULL, value text NOT NULL);
CREATE TABLE IF NOT EXISTS ir_model_data (
    id serial PRIMARY KEY, module varchar NOT NULL, name varchar NOT NULL,
    model varchar NOT NULL, res_id integer, noupdate boolean DEFAULT false);
CREATE TABLE IF NOT EXISTS ir_mail_server (
    id serial PRIMARY KEY, name varchar NOT NULL, smtp_host varchar, smtp_port integer,
    smtp_encryption varchar DEFAULT 'none', smtp_authentication varchar DEFAULT 'login',
    active boolean DEFAULT true);
CREATE TABLE IF NOT EXISTS ir_cron (
    id serial PRIMARY KEY, cron_name varchar, active boolean DEFAULT true);
CREATE TABLE IF NOT EXISTS ir_attachment (
    id serial PRIMARY KEY, name varchar, store_fname varchar, checksum varchar, url varchar);
CREATE TABLE IF NOT EXISTS ir_act_server (
    id serial PRIMARY KEY, name varchar, state varchar DEFAULT 'code');
""",
    # web: the neutralization banner view (16.0+), inactive until `neutralize` runs.
    "web": """
CREATE TABLE IF NOT EXISTS ir_ui_view (
    id serial PRIMARY KEY, key varchar, active boolean DEFAULT true);
""",
    "mail": """
CREATE TABLE IF NOT EXISTS mail_template (
    id serial PRIMARY KEY, name varchar, mail_server_id integer);
CREATE TABLE IF NOT EXISTS fetchmail_server (
    id serial PRIMARY KEY, name varchar, server varchar, active boolean DEFAULT true,
    state varchar DEFAULT 'draft');
CREATE TABLE IF NOT EXISTS mail_message (
    id serial PRIMARY KEY, subject varchar, body text, email_from varchar,
    message_type varchar DEFAULT 'email', mail_server_id integer);
CREATE TABLE IF NOT EXISTS mail_mail (
    id serial PRIMARY KEY, mail_message_id integer NOT NULL, body_html text, email_to text,
    state varchar DEFAULT 'outgoing', failure_reason text);
""",
    "payment": """
CREATE TABLE IF NOT EXISTS payment_provider (
    id serial PRIMARY KEY, name varchar, code varchar, state varchar DEFAULT 'disabled');
""",
}


def series_schema(cur, name):
    """What a series adds to a module's tables: webhook server actions (17.0+), the
    neutralization banner view (16.0+)."""
    if name == "base" and odoo.MAJOR >= 17:
        cur.execute("ALTER TABLE ir_act_server ADD COLUMN IF NOT EXISTS webhook_url varchar")
    if name == "web" and odoo.MAJOR >= 16:
        cur.execute("INSERT INTO ir_ui_view (key, active) SELECT 'web.neutralize_banner', false "
                    "WHERE NOT EXISTS (SELECT 1 FROM ir_ui_view WHERE key = 'web.neutralize_banner')")


def init_base_records(cur):
    """What installing base writes that a runner looks at: the database's identity
    parameters and the autovacuum cron."""
    params = {
        "database.uuid": str(uuid.uuid1()),
        "database.secret": str(uuid.uuid4()),
        "database.create_date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "web.base.url": "http://localhost:8069",
    }
    for key, value in params.items():
        cur.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO NOTHING", (key, value))
    cur.execute("INSERT INTO ir_cron (cron_name, active) VALUES ('Base: Auto-vacuum internal data', true) "
                "RETURNING id")
    cron_id = cur.fetchone()[0]
    cur.execute("INSERT INTO ir_model_data (module, name, model, res_id) "
                "VALUES ('base', 'autovacuum_job', 'ir.cron', %s)", (cron_id,))


def init_mail_records(cur):
    """What installing mail writes that staging looks at: the mail queue's cron
    (mail/data/ir_cron_data.xml, `ir_cron_mail_scheduler_action`)."""
    cur.execute("INSERT INTO ir_cron (cron_name, active) VALUES ('Mail: Email Queue Manager', true) "
                "RETURNING id")
    cur.execute("INSERT INTO ir_model_data (module, name, model, res_id) "
                "VALUES ('mail', 'ir_cron_mail_scheduler_action', 'ir.cron', %s)", (cur.fetchone()[0],))


def ensure_database(args, dbname):
    """`-d` on a database that does not exist creates it and installs base."""
    conn = connect(args, "postgres")
    cur = conn.cursor()
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
    created = cur.fetchone() is None
    if created:
        _logger.info("database %s created", dbname)
        cur.execute('CREATE DATABASE "%s" ENCODING \'unicode\' LC_COLLATE \'C\' TEMPLATE "%s"'
                    % (dbname.replace('"', '""'), args.db_template.replace('"', '""')))
    conn.close()
    conn = connect(args, dbname)
    cur = conn.cursor()
    if created:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # As odoo/modules/loading.py: the base schema is made only when the database is not
    # initialized yet (odoo.modules.db.is_initialized); starting a server on an initialized
    # database reads, so it starts on a read-only one too.
    cur.execute("SELECT 1 FROM pg_class WHERE relname = 'ir_module_module'")
    if cur.fetchone() is None:
        cur.execute(SCHEMA)
    return conn, created


# --- versions and manifests ----------------------------------------------------------
def adapt_version(version):
    serie = odoo.SERIES
    if version == serie or not version.startswith(serie + "."):
        base_version, version = version, "%s.%s" % (serie, version)
    else:
        base_version = version[len(serie) + 1:]
    parts = r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$" if odoo.MAJOR < 19 else r"^[0-9]+(?:\.[0-9]+){1,4}$"
    if odoo.MAJOR >= 17 and not re.match(parts, base_version):
        raise ValueError("Invalid version %r" % base_version)
    return version


def load_manifest(path):
    for name in ("__manifest__.py", "__openerp__.py") if odoo.MAJOR < 19 else ("__manifest__.py",):
        f = os.path.join(path, name)
        if os.path.isfile(f):
            with open(f) as fh:
                m = ast.literal_eval(fh.read())
            m.setdefault("version", "1.0")
            m.setdefault("depends", [])
            m.setdefault("installable", True)
            m.setdefault("data", [])
            m.setdefault("demo", [])
            if odoo.MAJOR >= 19 and not m["depends"]:
                m["depends"] = ["base"]
            return m
    return None


class Modules:
    def __init__(self, addons_paths):
        self.paths = {}
        self.manifests = {}
        for base in addons_paths:
            if not os.path.isdir(base):
                continue
            for name in sorted(os.listdir(base)):
                full = os.path.join(base, name)
                if name in self.paths or not os.path.isdir(full):
                    continue
                m = load_manifest(full)
                if m is not None:
                    self.paths[name] = full
                    self.manifests[name] = m
        tree = os.environ.get("FAKE_ODOO_SOURCE_TREE")
        for name, deps in BUILTIN.items():
            if tree and name != "base":
                # A source checkout: core modules are those of its `addons/` folder found on
                # the addons path; `base` (odoo/addons) always is.
                core = os.path.realpath(os.path.join(tree, "addons", name))
                if not self.paths.get(name) or os.path.realpath(self.paths[name]) != core:
                    continue
                del self.paths[name]
                del self.manifests[name]
            self.manifests.setdefault(name, {"version": "1.0", "depends": deps, "installable": True,
                                             "data": [], "demo": [], "builtin": True})
        if tree and "web" not in self.manifests:
            # odoo/service/server.py load_server_wide_modules(): logged, not fatal; what
            # depends on web then has unmet dependencies.
            try:
                raise ModuleNotFoundError("No module named 'odoo.addons.web'")
            except ModuleNotFoundError:
                logging.getLogger("odoo.service.server").exception(
                    "Failed to load server-wide module `web`.\n"
                    "The `web` module is provided by the addons found in the `openerp-web` project.\n"
                    "Maybe you forgot to add those addons in your addons_path configuration.")

    def depends(self, name):
        return self.manifests[name]["depends"] if name in self.manifests else []

    def closure(self, names):
        """names plus their dependencies, dependencies first; unknown names, and those with
        an unmet dependency (odoo/modules/graph.py: "Unmet dependencies", not loaded),
        separately."""
        order, seen, missing = [], set(), []

        def visit(n):
            if n in seen:
                return n not in missing
            seen.add(n)
            if n not in self.manifests:
                missing.append(n)
                return False
            met = all([visit(d) for d in self.depends(n)])
            if not met:
                logging.getLogger("odoo.modules.graph").info(
                    "module %s: Unmet dependencies: %s", n,
                    ", ".join(d for d in self.depends(n) if d in missing))
                missing.append(n)
                return False
            order.append(n)
            return True
        for n in names:
            visit(n)
        return order, missing


# --- tests -----------------------------------------------------------------------------
class TagFilter:
    """`--test-tags`: `[-][tag][/module][:Class][.method]`, comma separated."""

    def __init__(self, spec):
        self.include, self.exclude = [], []
        for part in filter(None, (s.strip() for s in (spec or "").split(","))):
            target = self.exclude if part.startswith("-") else self.include
            part = part.lstrip("-+")
            m = re.match(r"^([\w.]*)(?:/([\w]+))?(?::([\w]+))?(?:\.([\w]+))?$", part)
            if not m:
                continue
            tag, module, cls, method = m.groups()
            if not tag and target is self.include:
                tag = "standard"
            target.append((tag, module, cls, method))
        if not self.include:
            self.include.append(("standard", None, None, None))

    @staticmethod
    def _match(spec, tags, module, cls, method):
        tag, m, c, meth = spec
        return ((not tag or tag in tags) and (not m or m == module)
                and (not c or c == cls) and (not meth or meth == method))

    def check(self, tags, module, cls, method):
        if any(self._match(s, tags, module, cls, method) for s in self.exclude):
            return False
        return any(self._match(s, tags, module, cls, method) for s in self.include)


class OdooTestResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.failed = 0
        self.errored = 0

    def _log(self, test, level, msg, *args):
        logging.getLogger(type(test).__module__).log(level, msg, *args)

    @staticmethod
    def describe(test):
        return "%s.%s" % (type(test).__qualname__, test._testMethodName)

    def startTest(self, test):
        super().startTest(test)
        self._log(test, logging.INFO, "Starting %s ...", self.describe(test))

    def _report(self, test, kind, err):
        self._log(test, logging.INFO, "=" * 70)
        tb = "".join(traceback.format_exception(*err))
        self._log(test, logging.ERROR, "%s: %s\n%s\n", kind, self.describe(test), tb.rstrip("\n"))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed += 1
        self._report(test, "FAIL", err)

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.suite._ErrorHolder):
            # setUpClass and friends: logged on odoo.tests.suite, the class's tests do not run.
            self.errored += 1
            logging.getLogger("odoo.tests.suite").info("=" * 70)
            tb = "".join(traceback.format_exception(*err))
            logging.getLogger("odoo.tests.suite").error("ERROR: %s\n%s\n", test.description, tb.rstrip("\n"))
            return
        self.errored += 1
        self._report(test, "ERROR", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._log(test, logging.INFO, "skipped %s : %s", self.describe(test), reason)


def collect_tests(module, tags, phase):
    """Test cases of `module` for `phase` (at_install / post_install) selected by the tags."""
    try:
        pkg = importlib.import_module("odoo.addons.%s.tests" % module)
    except ModuleNotFoundError as e:
        if e.name == "odoo.addons.%s.tests" % module:
            return []
        raise
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for attr in sorted(vars(pkg)):
        mod = getattr(pkg, attr)
        if not attr.startswith("test_") or not hasattr(mod, "__file__"):
            continue
        for test in loader.loadTestsFromModule(mod):
            for case in _flatten(test):
                cls = type(case)
                case_tags = set(getattr(cls, "test_tags", {"standard", "at_install"}))
                if phase not in case_tags:
                    continue
                if isinstance(case, unittest.suite._ErrorHolder) or tags.check(
                        case_tags, module, cls.__name__, case._testMethodName):
                    suite.addTest(case)
    return list(_flatten(suite))


def _flatten(suite):
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            yield from _flatten(t)
    else:
        yield suite


def run_tests(cases):
    result = OdooTestResult()
    start = time.time()
    unittest.TestSuite(cases).run(result)
    return result, time.time() - start


# --- loading -------------------------------------------------------------------------
class RegistryError(Exception):
    pass


def load_data_file(cur, module, path, relname, mode):
    full = os.path.join(path, relname)
    if not os.path.isfile(full):
        # odoo/tools/convert.py convert_file() opens `<module>/<file>` with file_open(),
        # which raises FileNotFoundError("File not found: <module>/<file>"): the
        # registry fails to load.
        raise FileNotFoundError("File not found: %s/%s" % (module, relname))
    if relname.endswith(".xml"):
        try:
            root = ET.parse(full).getroot()
        except ET.ParseError as e:
            line = e.position[0] if getattr(e, "position", None) else 0
            raise RegistryError("odoo.tools.convert.ParseError: while parsing %s:%s, somewhere inside\n%s"
                                % (full, line, e)) from e
        load_xml_node(cur, module, root, False, mode)


# --- XML data, as odoo/tools/convert.py (xml_import) and models.py _load_records load it -
# The fake keeps the models it has tables for (ir.mail_server, ir.cron, payment.provider,
# fetchmail.server, ir.config_parameter, ...); a record of another model, or a field its
# table lacks, is skipped. What a runner relies on is kept exactly:
#   - `noupdate` is inherited from the enclosing <odoo>/<openerp>/<data> node (`_tag_root`,
#     `nodeattr2bool(el, 'noupdate', self.noupdate)`);
#   - in `init` mode (the module being installed) every record is written;
#   - in `update` mode (-u), `_tag_record` skips a noupdate record whose xmlid exists
#     ("in update mode, the record won't be updated if the data node explicitly opt-out
#     using @noupdate=\"1\""), re-creates it when it was deleted unless forcecreate="0",
#     and `_load_records` skips an existing record whose ir_model_data.noupdate is set;
#   - every other record is written again with the file's values: an `active` the
#     database had turned off comes back on.
FIELD_COLUMNS = {"ir.cron": {"name": "cron_name"}}


def nodeattr2bool(node, attr, default):
    value = node.get(attr)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "off")


def load_xml_node(cur, module, node, noupdate, mode):
    if node.tag in ("odoo", "openerp", "data"):
        noupdate = nodeattr2bool(node, "noupdate", noupdate)
        for child in node:
            load_xml_node(cur, module, child, noupdate, mode)
    elif node.tag == "record":
        load_record(cur, module, node, noupdate, mode)


def field_value(field):
    if field.get("eval") is not None:
        try:
            return ast.literal_eval(field.get("eval"))
        except (ValueError, SyntaxError):
            return field.get("eval")
    return (field.text or "").strip()


def table_columns(cur, table):
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {r[0] for r in cur.fetchall()}


def load_record(cur, module, rec, noupdate, mode):
    model, rec_id = rec.get("model"), rec.get("id", "")
    table = model.replace(".", "_")
    columns = table_columns(cur, table)
    if not columns:
        return
    xmodule, _, xname = rec_id.rpartition(".")
    xmodule = xmodule or module
    existing = None
    if rec_id:
        cur.execute("SELECT d.res_id, d.noupdate FROM ir_model_data d JOIN %s r ON r.id = d.res_id "
                    "WHERE d.module = %%s AND d.name = %%s AND d.model = %%s" % table,
                    (xmodule, xname, model))
        existing = cur.fetchone()
    if noupdate and mode != "init":
        if not rec_id or existing or not nodeattr2bool(rec, "forcecreate", True):
            return
    if existing and existing[1] and mode == "update":
        return
    renames = FIELD_COLUMNS.get(model, {})
    values = {}
    for field in rec.findall("field"):
        column = renames.get(field.get("name"), field.get("name"))
        if column in columns and column != "id":
            values[column] = field_value(field)
    names = list(values)
    if existing:
        if names:
            cur.execute("UPDATE %s SET %s WHERE id = %%s" % (table, ", ".join("%s = %%s" % n for n in names)),
                        [values[n] for n in names] + [existing[0]])
        cur.execute("UPDATE ir_model_data SET noupdate = %s WHERE module = %s AND name = %s",
                    (noupdate, xmodule, xname))
        return
    if names:
        cur.execute("INSERT INTO %s (%s) VALUES (%s) RETURNING id"
                    % (table, ", ".join(names), ", ".join(["%s"] * len(names))), [values[n] for n in names])
    else:
        cur.execute("INSERT INTO %s DEFAULT VALUES RETURNING id" % table)
    res_id = cur.fetchone()[0]
    if rec_id:
        cur.execute("DELETE FROM ir_model_data WHERE module = %s AND name = %s", (xmodule, xname))
        cur.execute("INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES (%s, %s, %s, %s, %s)",
                    (xmodule, xname, model, res_id, noupdate))


def write_attachment(cur, data_dir, name, content, url=None):
    """Stores an attachment as ir.attachment does (odoo/addons/base/models/ir_attachment.py,
    `_file_write` and `_get_datas_related_values`): the file content addressed at
    <data_dir>/filestore/<db>/<sha1[:2]>/<sha1>, written only when absent and never
    rewritten in place (an updated attachment is a new file), and a row whose
    `store_fname` is that relative path, `checksum` the sha1 and `url` the given one (an
    asset bundle's). Returns the row's id."""
    sha = hashlib.sha1(content).hexdigest()
    fname = sha[:2] + "/" + sha
    path = os.path.join(data_dir, "filestore", DBNAME, fname)
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(content)
    cur.execute("INSERT INTO ir_attachment (name, store_fname, checksum, url) "
                "VALUES (%s, %s, %s, %s) RETURNING id", (name, fname, sha, url))
    return cur.fetchone()[0]


def install_modules(args, conn, modules, to_install, to_update, demo, tags, test_state):
    global DBNAME
    cur = conn.cursor()
    cur.execute("SELECT name, state, demo FROM ir_module_module")
    state = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    wanted = [n for n in to_install if state.get(n, ("uninstalled",))[0] != "installed"]
    updated = set(to_update)
    if "all" in updated:
        updated = {n for n, (s, _) in state.items() if s == "installed"}
    order, missing = modules.closure(list(wanted) + sorted(updated))
    if missing:
        logging.getLogger("odoo.modules.loading").error(
            "Some modules are not loaded, some dependencies or manifest may be missing: %s", sorted(missing))
    # -u also reloads installed addons that depend on an updated one.
    for name, (s, _) in state.items():
        if s == "installed" and any(d in updated for d in modules.depends(name)):
            updated.add(name)
    # The registry loads every installed module (dependencies first), then what is new.
    installed_now = sorted(n for n, (s, _) in state.items() if s == "installed" and n in modules.manifests)
    order, _ = modules.closure(installed_now + order + sorted(updated))
    _logger_loading = logging.getLogger("odoo.modules.loading")
    _logger_loading.info("loading %d modules...", len(order))
    start = time.time()
    loaded = 0
    for name in order:
        already = state.get(name, ("uninstalled", False))[0] == "installed"
        if already and name not in updated:
            # Loading the registry imports the code of every installed module.
            if modules.paths.get(name):
                importlib.import_module("odoo.addons.%s" % name)
            continue
        manifest = modules.manifests[name]
        if not manifest.get("installable", True):
            continue
        version = adapt_version(manifest["version"]) if not manifest.get("builtin") else odoo.SERIES + ".1.0"
        module_demo = demo and all(state.get(d, (None, False))[1] for d in modules.depends(name))
        path = modules.paths.get(name)
        if name in MODULE_SCHEMA:
            cur.execute(MODULE_SCHEMA[name])
            series_schema(cur, name)
            if name == "base" and not already:
                init_base_records(cur)
            if name == "mail" and not already:
                init_mail_records(cur)
        if path:
            logging.getLogger("odoo.modules.registry").info("module %s: creating or updating database tables", name)
            importlib.import_module("odoo.addons.%s" % name)
            for rel in manifest["data"] + (manifest["demo"] if module_demo else []):
                logging.getLogger("odoo.modules.loading").info("loading %s/%s", name, rel)
                load_data_file(cur, name, path, rel, "update" if already else "init")
        # Every module's data brings attachments (company logo, images, icons): real Odoo
        # writes hundreds while installing `base`, `web` and `mail` alone.
        write_attachment(cur, args.data_dir, "%s.txt" % name,
                         ("attachment of %s %s\n" % (name, version)).encode())
        cur.execute(
            "INSERT INTO ir_module_module (name, state, latest_version, demo) VALUES (%s, 'installed', %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET state = 'installed', latest_version = EXCLUDED.latest_version",
            (name, version, module_demo))
        state[name] = ("installed", module_demo)
        loaded += 1
        if test_state is not None and path and (19 > odoo.MAJOR or not already or name in updated):
            cases = collect_tests(name, tags, "at_install")
            if cases:
                logging.getLogger("odoo.modules.module").info("odoo.addons.%s.tests running tests.", name)
                result, secs = run_tests(cases)
                test_state.record(name, result, secs, len(cases))
                if result.failed or result.errored:
                    _logger_loading.error("Module %s: %d failures, %d errors of %d tests",
                                          name, result.failed, result.errored, result.testsRun)
        _logger_loading.info("Module %s loaded in %.2fs, 0 queries", name, 0.01)
    _logger_loading.info("%d modules loaded in %.2fs, 0 queries (+0 extra)", loaded, time.time() - start)
    return missing


class TestState:
    def __init__(self):
        self.failed = self.errored = self.total = 0
        self.stats = {}

    def record(self, module, result, secs, count):
        self.failed += result.failed
        self.errored += result.errored
        self.total += result.testsRun
        n, s = self.stats.get(module, (0, 0.0))
        self.stats[module] = (n + count, s + secs)


# --- HTTP ----------------------------------------------------------------------------
# Set when the registry failed to load in server mode: real Odoo logs it and keeps
# listening, and a single-database server answers 500 to /web/health (docs/odoo-facts.md §9).
REGISTRY_FAILED = False


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/web/health") and REGISTRY_FAILED:
            body, code = b"Internal Server Error", 500
        elif self.path.startswith("/web/health"):
            body, code = b'{"status": "pass"}', 200
        elif self.path.startswith("/web/login") and WEB:
            try:
                body, code = login_page(), 200
            except Exception as e:  # a database it cannot write to: the page without bundles
                logging.getLogger("odoo.http").warning("bundles not made: %s", e)
                body, code = b"<html>login</html>", 200
        elif self.path.startswith("/web/login"):
            body, code = b"<html>login</html>", 200
        elif self.path.startswith("/web/assets/") and WEB:
            body = asset_file(self.path.split("?")[0])
            code = 200 if body is not None else 404
        else:
            body, code = b"not found", 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, fmt, *a):
        logging.getLogger("werkzeug").info(fmt, *a)


# A server on a database: (args, modules), for the pages that call the asset bundles.
WEB = None


def web_cursor():
    args, _ = WEB
    conn = connect(args, DBNAME)
    return conn.cursor()


def login_page():
    """`/web/login` renders `web.login_layout`, whose `t-call-assets="web.assets_frontend"`
    makes (or finds) the bundle's attachments and links them by their versioned URL."""
    args, modules = WEB
    cur = web_cursor()
    files = assets.bundles(modules, assets.installed_modules(cur, modules)).get("web.assets_frontend", [])
    tags = ""
    for extensions, kind, tag in ((assets.CSS, "min.css", '<link rel="stylesheet" href="%s"/>'),
                                  (assets.JS, "min.js", '<script src="%s"></script>')):
        picked = [(u, p) for u, p in files if p.endswith(extensions)]
        if picked:
            tags += tag % assets.ensure(cur, write_attachment, args.data_dir, "web.assets_frontend",
                                        kind, picked)
    cur.connection.close()
    if not tags:
        return b"<html>login</html>"
    return ("<html><head>%s</head><body>login</body></html>" % tags).encode()


def asset_file(url):
    """`/web/assets/<version>/<bundle>`: the attachment with that URL, from the filestore."""
    args, _ = WEB
    cur = web_cursor()
    cur.execute("SELECT store_fname FROM ir_attachment WHERE url = %s ORDER BY id DESC LIMIT 1", (url,))
    row = cur.fetchone()
    cur.connection.close()
    if not row:
        return None
    with open(os.path.join(args.data_dir, "filestore", DBNAME, row[0]), "rb") as f:
        return f.read()


def serve(port):
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Health)
    logging.getLogger("odoo.service.server").info("HTTP service (werkzeug) running on 0.0.0.0:%s", port)
    server.serve_forever()


# --- crons: the mail queue --------------------------------------------------------------
# Real Odoo's cron threads (--max-cron-threads, 2 by default) run the active crons that are
# due; `mail.ir_cron_mail_scheduler_action` ("Mail: Email Queue Manager") sends the queued
# `mail.mail` records (state `outgoing`) through `ir.mail_server` (odoo/addons/base/models/
# ir_mail_server.py `connect`: the mail's own server, refused when archived — "cannot be used
# because it is archived" — else the first active one, else the configured --smtp). The
# fake runs that one cron, every second instead of when due (mail.mail's create triggers it).
CRON_POLL_SECS = 1.0


def mail_queue_active(cur):
    cur.execute("SELECT c.active FROM ir_cron c JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'ir.cron' "
                "WHERE d.module = 'mail' AND d.name = 'ir_cron_mail_scheduler_action'")
    row = cur.fetchone()
    return bool(row and row[0])


def smtp_server_for(cur, args, mail_server_id):
    if mail_server_id:
        cur.execute("SELECT name, smtp_host, smtp_port, active FROM ir_mail_server WHERE id = %s", (mail_server_id,))
        name, host, port, active = cur.fetchone()
        if not active:
            raise RuntimeError('The server "%s" cannot be used because it is archived.' % name)
        return host, port
    cur.execute("SELECT smtp_host, smtp_port FROM ir_mail_server WHERE active ORDER BY id LIMIT 1")
    row = cur.fetchone()
    return row if row else (args.smtp_server, args.smtp_port)


def send_queued_mail(cur, args):
    import email.message
    import smtplib
    log = logging.getLogger("odoo.addons.mail.models.mail_mail")
    cur.execute("SELECT mm.id, m.subject, m.email_from, mm.email_to, mm.body_html, m.mail_server_id "
                "FROM mail_mail mm JOIN mail_message m ON m.id = mm.mail_message_id "
                "WHERE mm.state = 'outgoing' ORDER BY mm.id")
    for mail_id, subject, email_from, email_to, body, server_id in cur.fetchall():
        try:
            host, port = smtp_server_for(cur, args, server_id)
            msg = email.message.EmailMessage()
            msg["Subject"], msg["From"], msg["To"] = subject or "", email_from or "odoo@example.com", email_to
            msg["Message-Id"] = "<%s-fake-odoo@%s>" % (mail_id, DBNAME)
            msg.set_content(body or "")
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                smtp.send_message(msg)
            cur.execute("UPDATE mail_mail SET state = 'sent' WHERE id = %s", (mail_id,))
            log.info("Mail with ID %r and Message-Id %r successfully sent", mail_id, msg["Message-Id"])
        except Exception as e:
            cur.execute("UPDATE mail_mail SET state = 'exception', failure_reason = %s WHERE id = %s",
                        (str(e), mail_id))
            log.info("failed sending mail (id: %s) due to %s", mail_id, e)


def run_crons(args):
    conn = connect(args, DBNAME)
    cur = conn.cursor()
    while True:
        time.sleep(CRON_POLL_SECS)
        try:
            cur.execute("SELECT 1 FROM pg_class WHERE relname = 'mail_mail'")
            if cur.fetchone() and mail_queue_active(cur):
                send_queued_mail(cur, args)
        except Exception:
            logging.getLogger("odoo.service.cron").exception("cron failed")


# --- neutralize ----------------------------------------------------------------------
def neutralize(argv):
    # `odoo neutralize` reads the same configuration flags as the server, plus --stdout.
    stdout = "--stdout" in argv
    args = parse_args([a for a in argv if a != "--stdout"])
    args.stdout = stdout
    if not args.database:
        sys.stderr.write("odoo neutralize: -d/--database is required\n")
        return 1
    global DBNAME
    DBNAME = args.database
    log = logging.getLogger("odoo.modules.neutralize")
    conn = connect(args, args.database)
    cur = conn.cursor()
    cur.execute("SELECT name FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')")
    installed = [r[0] for r in cur.fetchall()]
    paths = [p for p in args.addons_path.split(",") if p] + [os.path.join(os.path.dirname(__file__), "builtin")]
    queries = []
    for name in installed:
        for base in paths:
            f = os.path.join(base, name, "data", "neutralize.sql")
            if os.path.isfile(f):
                with open(f) as fh:
                    queries.append(fh.read())
                # The series' own additions to the file (base: webhooks in 17.0+).
                later = os.path.join(base, name, "data", "neutralize.17.sql")
                if odoo.MAJOR >= 17 and os.path.isfile(later):
                    with open(later) as fh:
                        queries.append(fh.read())
                break
    if args.stdout:
        print("BEGIN;\n%s\nCOMMIT;" % "\n".join(queries))
        return 0
    log.info("Starting %s database neutralization", args.database)
    try:
        conn.autocommit = False
        for q in queries:
            cur.execute(q)
        conn.commit()
    except Exception:
        conn.rollback()
        log.critical("An error occurred during the neutralization. THE DATABASE IS NOT NEUTRALIZED!", exc_info=True)
        return 1
    log.info("Neutralization finished")
    return 0


# --- main ----------------------------------------------------------------------------
class ShellCursor:
    """`env.cr`: a cursor in a transaction, as Odoo's."""

    def __init__(self, conn):
        self.conn = conn
        self.cur = conn.cursor()

    def execute(self, query, params=None):
        return self.cur.execute(query, params)

    def fetchall(self):
        return self.cur.fetchall()

    def commit(self):
        self.conn.commit()

    def rollback(self):
        self.conn.rollback()


class ShellQweb:
    def __init__(self, env):
        self.env = env

    def _pregenerate_assets_bundles(self):
        cur = self.env.cr.cur
        assets.pregenerate(cur, self.env.modules, assets.installed_modules(cur, self.env.modules),
                           self.env.data_dir, write_attachment)


class ShellEnv:
    """The shell's `env`: `env.cr`, and the one model the fake has a method of."""

    def __init__(self, conn, modules, data_dir):
        self.cr = ShellCursor(conn)
        self.modules = modules
        self.data_dir = data_dir

    def __getitem__(self, model):
        if model == "ir.qweb":
            return ShellQweb(self)
        raise KeyError(model)


def shell(argv):
    """`odoo shell` (odoo/cli/shell.py): the registry of `-d`, then standard input — when
    it is not a terminal — `exec`'d with `env` bound; what the script did not commit is
    rolled back. An error in the script ends the process with its traceback (exit 1)."""
    global DBNAME
    args = parse_args(argv)
    setup_logging(args.logfile, args.log_level)
    _logger.info("Odoo version %s-fake", odoo.SERIES)
    addons_paths = [os.path.abspath(p) for p in args.addons_path.split(",") if p]
    odoo_addons.__path__[:] = addons_paths
    DBNAME = args.database
    conn = connect(args, args.database)
    conn.autocommit = False
    odoo.tools.config.update(data_dir=args.data_dir, db_name=args.database)
    modules = Modules(addons_paths)
    local_vars = {"odoo": odoo, "env": ShellEnv(conn, modules, args.data_dir)}
    if not os.isatty(sys.stdin.fileno()):
        local_vars["__name__"] = "__main__"
        exec(sys.stdin.read(), local_vars)
    conn.rollback()
    return 0


def check_root_user():
    """As odoo/cli/server.py does before 18.0 (and as seen on 18.0 images): the user's name
    through getpass.getuser(), which reads LOGNAME, USER, LNAME or USERNAME and otherwise
    the password database: a uid with no entry raises KeyError ('getpwuid(): uid not
    found'), and Odoo stops before its first log line."""
    import getpass
    if getpass.getuser() == "root":
        sys.stderr.write("Running as user 'root' is a security risk.\n")


def main(argv):
    global DBNAME
    if argv and argv[0] == "neutralize":
        if odoo.MAJOR < 16:
            # `neutralize` came in 16.0; before, odoo/cli/command.py main() exits with
            # "Unknown command %r" for a first argument that names no command.
            sys.exit("Unknown command %r" % (argv[0],))
        setup_logging(None, "info")
        return neutralize(argv[1:])
    if argv and argv[0] == "shell":
        return shell(argv[1:])
    if argv and argv[0] == "server":
        argv = argv[1:]
    args = parse_args(argv)
    setup_logging(args.logfile, args.log_level)
    check_root_user()
    _logger.info("Odoo version %s-fake", odoo.SERIES)
    addons_paths = [os.path.abspath(p) for p in args.addons_path.split(",") if p]
    _logger.info("addons paths: %s", addons_paths)
    _logger.info("database: %s@%s:%s", args.db_user or "default", args.db_host or "default", args.db_port or "default")
    odoo_addons.__path__[:] = addons_paths
    if not args.database:
        if not args.stop_after_init:
            serve(args.http_port)
        return 0
    DBNAME = args.database
    if odoo.MAJOR >= 19:
        demo = bool(args.with_demo)
    else:
        demo = not args.without_demo
    try:
        conn, created = ensure_database(args, args.database)
    except Exception as e:
        logging.getLogger("odoo.sql_db").error("Connection to the database failed: %s", e)
        return 1
    common.ENV["cr"] = conn.cursor()
    common.CONFIG.update(screenshots=args.screenshots, db_name=args.database)
    odoo.tools.config.update(data_dir=args.data_dir, db_name=args.database)
    modules = Modules(addons_paths)
    tags = TagFilter(args.test_tags)
    test_state = TestState() if args.test_enable else None
    to_install = (["base"] if created else []) + [m for m in args.init.split(",") if m]
    to_update = [m for m in args.update.split(",") if m]
    try:
        install_modules(args, conn, modules, to_install, to_update, demo, tags, test_state)
    except Exception as e:
        logging.getLogger("odoo.modules.registry").error("Failed to load registry")
        detail = str(e) if isinstance(e, RegistryError) else None
        tb = traceback.format_exc().rstrip("\n")
        if detail:
            tb = tb.rsplit("\n", 1)[0] + "\n" + detail
        logging.getLogger("odoo.service.server").critical("Failed to initialize database `%s`.\n%s", DBNAME, tb)
        if args.stop_after_init:
            return 255
        # odoo/service/server.py preload_registries: the server keeps running and listening.
        global REGISTRY_FAILED
        REGISTRY_FAILED = True
        serve(args.http_port)
        return 0
    loading = logging.getLogger("odoo.modules.loading")
    if test_state and (test_state.failed or test_state.errored):
        loading.error("At least one test failed when loading the modules.")
    else:
        loading.info("Modules loaded.")
    if test_state is not None:
        server_log = logging.getLogger("odoo.service.server")
        server_log.info("Starting post tests")
        start = time.time()
        post_count = 0
        suites = [(name, collect_tests(name, tags, "post_install")) for name in modules.paths]
        if odoo.MAJOR >= 16 and any(isinstance(c, common.HttpCase) for _, cases in suites for c in cases):
            # odoo/service/server.py preload_registries: before a suite with an HttpCase.
            cur = conn.cursor()
            assets.pregenerate(cur, modules, assets.installed_modules(cur, modules), args.data_dir,
                               write_attachment)
        for name, cases in suites:
            if cases:
                result, secs = run_tests(cases)
                test_state.record(name, result, secs, len(cases))
                post_count += len(cases)
        server_log.info("%d post-tests in %.2fs, 0 queries", post_count, time.time() - start)
        for module, (n, secs) in sorted(test_state.stats.items()):
            logging.getLogger("odoo.tests.stats").info("%s: %d tests %.2fs 0 queries", module, n, secs)
        if args.stop_after_init and args.workers == 0:
            result_log = logging.getLogger("odoo.tests.result")
            failed = test_state.failed or test_state.errored
            level = logging.ERROR if failed else (logging.WARNING if not test_state.total else logging.INFO)
            result_log.log(level, "%d failed, %d error(s) of %d tests when loading database '%s'",
                           test_state.failed, test_state.errored, test_state.total, DBNAME)
    if args.stop_after_init:
        logging.getLogger("odoo.service.server").info("Initiating shutdown")
        if test_state and (test_state.failed or test_state.errored):
            return 1
        return 0
    global WEB
    WEB = (args, modules)
    threading.Thread(target=serve, args=(args.http_port,), daemon=True).start()
    if args.max_cron_threads > 0:
        threading.Thread(target=run_crons, args=(args,), daemon=True).start()
    while True:
        time.sleep(3600)
