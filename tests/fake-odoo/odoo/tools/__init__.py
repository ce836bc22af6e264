"""`odoo.tools.config` as tests use it (odoo/tools/config.py, `configmanager`): options by
name (`data_dir`, `db_name`, …) and `filestore(dbname)`, the folder of a database's
attachments (`<data_dir>/filestore/<dbname>`)."""
import os


class configmanager(dict):
    def filestore(self, dbname):
        return os.path.join(self["data_dir"], "filestore", dbname)


config = configmanager()
