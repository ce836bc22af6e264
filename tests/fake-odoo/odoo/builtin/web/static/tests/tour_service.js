odoo.define('@web/tests/tour_service', [], function () { return {}; });
