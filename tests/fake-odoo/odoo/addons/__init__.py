# Addons are imported as odoo.addons.<name>; the CLI sets __path__ to the addons paths.
__path__ = []
