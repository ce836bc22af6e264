odoo.define('@mail/core/thread', [], function () { return {}; });
