{
    'name': 'ACC Report',
    'version': '17.0.1.0.3',
    'license': 'LGPL-3',
    'depends': ['acc_sale'],
    'external_dependencies': {'python': []},
}
