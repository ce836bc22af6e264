{'name': 'account', 'version': '1.0', 'depends': ['product'], 'installable': True}
