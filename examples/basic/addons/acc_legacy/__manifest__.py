{
    'name': 'ACC Legacy (not ported yet)',
    'version': '16.0.1.0.0',
    'depends': ['acc_base', 'account'],
    'installable': False,
}
