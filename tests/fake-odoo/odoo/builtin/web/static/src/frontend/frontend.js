odoo.define('@web/frontend/main', [], function () { return {}; });
