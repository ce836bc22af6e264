{'name': 'payment', 'version': '1.0', 'depends': ['account'], 'installable': True}
