{
    'name': 'ACC Sale',
    'summary': ('Sale extensions '
                'for ACC'),
    'version': '1.2.0',  # prefixed to 17.0.1.2.0 by Odoo
    'license': 'LGPL-3',
    'depends': ['acc_base', 'sale'],
    'data': [],
    'demo': [],
    'auto_install': False,
}
