# -*- coding: utf-8 -*-
{
    "name": "ACC Base",
    "summary": "Shared models for the ACC addons",
    "version": "17.0.1.0.0",
    "license": "LGPL-3",
    "depends": ["base", "mail"],
    "installable": True,
}
