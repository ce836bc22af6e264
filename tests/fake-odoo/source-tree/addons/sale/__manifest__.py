{'name': 'sale', 'version': '1.0', 'depends': ['product'], 'installable': True}
