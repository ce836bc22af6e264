odoo.define('@web/core/main', [], function () { return {}; });
