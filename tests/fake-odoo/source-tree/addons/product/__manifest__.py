{'name': 'product', 'version': '1.0', 'depends': ['mail'], 'installable': True}
