"""Asset bundles as Odoo 17/18 makes them (docs/odoo-facts.md, "Asset bundles before the
tours"), from `odoo/addons/base/models/assetsbundle.py` and `ir_qweb.py`:

- A bundle is the files that installed modules' manifests list under `assets` for its
  name (globs relative to the addons path, modules in load order). JS bundles hold the
  `.js` and `.xml` files, CSS bundles the `.css` and `.scss` ones.
- Its version is the first 7 hex digits of a SHA-512 over `url,last_modified` of each
  file (`AssetsBundle.get_checksum`, `WebAsset.unique_descriptor`): a file touched, added
  or removed is another version.
- It is stored as an `ir.attachment` whose url is `/web/assets/<version>/<bundle>.min.js`
  (or `.min.css`; `ir.asset._get_asset_bundle_url`), its content in the filestore. A
  bundle whose attachment for that version exists is reused (`get_attachments`); else it
  is made (`save_attachment` logs "Generating a new asset bundle attachment <url>
  (id:<id>)") and the attachments of its other versions are deleted (`_clean_attachments`).
- `_pregenerate_assets_bundles` makes every bundle, JS then CSS, sorted by name, and logs
  how long each half took. Real Odoo makes only those a view calls with `t-call-assets`
  (`_get_bundles_to_pregenerate`); the fake has no views and makes every bundle.

Making a bundle costs real Odoo about 0.6 s on 2 cores (47 bundles, ~30 s, for
`sale_management`). The fake's only invented behaviour: it sleeps
`FAKE_ASSET_BUNDLE_SECONDS` (default 0) per bundle it makes, so that a benchmark can give
the work its real weight.
"""
import glob
import hashlib
import logging
import os
import time

RUNBOT = 25
_logger = logging.getLogger("odoo.addons.base.models.assetsbundle")
_qweb_logger = logging.getLogger("odoo.addons.base.models.ir_qweb")

JS = (".js", ".xml")
CSS = (".css", ".scss")

# The bundles of the modules that come with the fake (the image's), under odoo/builtin.
BUILTIN_ASSETS = {
    "web": {
        "web.assets_backend": ["web/static/src/core/*.js", "web/static/src/core/*.xml",
                               "web/static/src/scss/*.scss"],
        "web.assets_frontend": ["web/static/src/frontend/*"],
        "web.assets_tests": ["web/static/tests/*.js"],
    },
    "mail": {
        "web.assets_backend": ["mail/static/src/*"],
    },
}
BUILTIN_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "builtin")


def module_assets(modules, name):
    """The module's `assets` and the folder its globs are relative to."""
    manifest = modules.manifests.get(name, {})
    if manifest.get("builtin"):
        return BUILTIN_ASSETS.get(name, {}), BUILTIN_ROOT
    path = modules.paths.get(name)
    if not path:
        return {}, None
    return manifest.get("assets", {}), os.path.dirname(path)


def bundles(modules, installed):
    """{bundle: [(url, file)]}: what the installed modules (in load order) put in each."""
    out = {}
    for name in installed:
        assets, root = module_assets(modules, name)
        for bundle, patterns in assets.items():
            files = out.setdefault(bundle, [])
            for pattern in patterns:
                if not isinstance(pattern, str):
                    continue  # ('include', …), ('remove', …): not modelled
                for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
                    if os.path.isfile(path):
                        url = "/" + os.path.relpath(path, root).replace(os.sep, "/")
                        files.append((url, path))
    return out


def version(files):
    descriptor = ",".join("%s,%s" % (url, os.path.getmtime(path)) for url, path in files)
    return hashlib.sha512(descriptor.encode()).hexdigest()[:64][0:7]


def ensure(cur, write_attachment, data_dir, bundle, extension, files):
    """The URL of the bundle's attachment for its version: found, or made (and older ones
    dropped)."""
    url = "/web/assets/%s/%s.%s" % (version(files), bundle, extension)
    cur.execute("SELECT max(id) FROM ir_attachment WHERE url = %s GROUP BY name", (url,))
    if cur.fetchall():
        return url
    time.sleep(float(os.environ.get("FAKE_ASSET_BUNDLE_SECONDS") or 0))
    content = ";\n".join(open(path, encoding="utf-8").read() for _, path in files)
    attachment_id = write_attachment(cur, data_dir, "%s.%s" % (bundle, extension),
                                     content.encode(), url)
    _logger.info("Generating a new asset bundle attachment %s (id:%s)", url, attachment_id)
    pattern = "/web/assets/_______/%s.%s" % (bundle, extension)
    cur.execute("DELETE FROM ir_attachment WHERE url LIKE %s AND url != %s RETURNING id",
                (pattern, url))
    deleted = [r[0] for r in cur.fetchall()]
    if deleted:
        _logger.info("Deleting attachments %s (matching %s) because it was replaced with %s",
                     deleted, pattern, url)
    return url


def pregenerate(cur, modules, installed, data_dir, write_attachment):
    """`ir.qweb._pregenerate_assets_bundles()`."""
    _qweb_logger.log(RUNBOT, "Pregenerating assets bundles")
    found = bundles(modules, installed)
    for extensions, kind, label in ((JS, "min.js", "JS"), (CSS, "min.css", "CSS")):
        start = time.time()
        for bundle in sorted(found):
            files = [(u, p) for u, p in found[bundle] if p.endswith(extensions)]
            if files:
                ensure(cur, write_attachment, data_dir, bundle, kind, files)
        _qweb_logger.info("%s Assets bundles generated in %s seconds", label, time.time() - start)


def installed_modules(cur, modules):
    """The installed modules in load order (dependencies first)."""
    cur.execute("SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name")
    order, _ = modules.closure([r[0] for r in cur.fetchall()])
    return order
