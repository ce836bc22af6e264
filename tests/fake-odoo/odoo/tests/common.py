"""What addon tests import: `TransactionCase`, `HttpCase` and `tagged`.

`HttpCase`'s browser tests follow Odoo 18's `odoo/tests/common.py` (docs/odoo-facts.md
§10): `ChromeBrowser` needs the `websocket` module (websocket-client) and one of
`google-chrome`, `chromium`, `chromium-browser`, `google-chrome-stable` on PATH; without
them it logs a WARNING on the test's logger and raises `unittest.SkipTest` ("websocket-client
module is not installed", "Chrome executable not found"). A failing tour saves a screenshot
with `save_test_file` under `<--screenshots>/<db>/screenshots/sc_<time>_<test>.png` and logs
"Screenshot in: <path>" (at Odoo's RUNBOT level 25, displayed as INFO), then fails the test.

This fake cannot run JavaScript: a tour is found in its addon's `static/tests/tours/*.js`
by name, and fails at its first step when its source holds `FAKE_TOUR_FAILS`. The browser
itself is real: a failing tour's screenshot is taken by the headless browser on PATH.
"""
import datetime
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import websocket  # noqa: F401  (Debian: python3-websocket)
except ImportError:
    websocket = None

ENV = {}
# What `odoo.tools.config` holds for the tests: `--screenshots` (default: a temp folder) and
# the database.
CONFIG = {"screenshots": os.path.join(tempfile.gettempdir(), "odoo_tests"), "db_name": None}


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

    @property
    def _logger(self):
        return logging.getLogger(type(self).__module__)


def _find_executable():
    for name in ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    raise unittest.SkipTest("Chrome executable not found")


def save_test_file(test_name, content, prefix, extension="png", logger=None, document_type="Screenshot"):
    now = datetime.datetime.now().strftime("%Y%m%d_%H%M%S_%f")
    screenshots_dir = pathlib.Path(CONFIG["screenshots"]) / CONFIG["db_name"] / "screenshots"
    screenshots_dir.mkdir(parents=True, exist_ok=True)
    full_path = screenshots_dir / ("%s%s_%s.%s" % (prefix, now, test_name, extension))
    full_path.write_bytes(content)
    (logger or logging.getLogger(__name__)).log(25, "%s in: %s", document_type, full_path)


class ChromeBrowser:
    def __init__(self, test_case):
        self._logger = test_case._logger
        self.test_case = test_case
        if websocket is None:
            self._logger.warning("websocket-client module is not installed")
            raise unittest.SkipTest("websocket-client module is not installed")
        try:
            self.executable = _find_executable()
        except unittest.SkipTest:
            self._logger.warning("Chrome executable not found")
            raise

    def take_screenshot(self, page_text, prefix="sc_"):
        """A real headless capture of a page saying what failed."""
        with tempfile.TemporaryDirectory(suffix="_chrome_odoo") as folder:
            page = os.path.join(folder, "page.html")
            with open(page, "w") as f:
                f.write("<html><body><h1>%s</h1></body></html>" % page_text)
            shot = os.path.join(folder, "shot.png")
            subprocess.run(
                [self.executable, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--no-first-run",
                 "--user-data-dir=%s" % os.path.join(folder, "profile"),
                 "--window-size=1366,768", "--screenshot=%s" % shot, "file://" + page],
                check=True, capture_output=True, timeout=120,
                env=dict(os.environ, HOME=folder, TMPDIR=folder))
            with open(shot, "rb") as f:
                content = f.read()
        name = "%s_%s" % (type(self.test_case).__name__, self.test_case._testMethodName)
        save_test_file(name, content, prefix, logger=self._logger)


def _tour_source(test_case, tour_name):
    module = sys.modules[type(test_case).__module__]
    addon_dir = pathlib.Path(module.__file__).parent.parent
    for js in sorted((addon_dir / "static" / "tests" / "tours").glob("*.js")):
        text = js.read_text()
        if "'%s'" % tour_name in text or '"%s"' % tour_name in text:
            return text
    return None


class HttpCase(TransactionCase):
    def browser_js(self, url_path, code, ready="", login=None, timeout=60, **kw):
        browser = ChromeBrowser(self)
        tour = kw.pop("_tour", None)
        failure = None
        if tour is not None:
            source = _tour_source(self, tour)
            if source is None:
                failure = "Tour %s not found" % tour
            elif "FAKE_TOUR_FAILS" in source:
                failure = "Tour %s failed at step 1" % tour
        if failure:
            browser.take_screenshot(failure)
            self.fail('The test code "%s" failed\n\n%s' % (code, failure))

    def start_tour(self, url_path, tour_name, step_delay=None, **kwargs):
        code = "odoo.startTour('%s')" % tour_name
        return self.browser_js(url_path, code, _tour=tour_name, **kwargs)
