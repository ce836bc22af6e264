from odoo.tests.common import TransactionCase


class TestAcc_base(TransactionCase):
    def test_loads(self):
        self.assertTrue(self.env["ir.module.module"].search([("name", "=", "acc_base")]))
