#!/usr/bin/env python3
"""Writes docs/odoo-ci.schema.json, the JSON Schema of .odoo-ci.yml, from this compact
description of src/config/schema.rs. Edit both together, then run
`python3 scripts/config-schema.py > docs/odoo-ci.schema.json`; tests/examples.rs checks
that the schema knows every key the config types serialize and accepts the README's
every-key example."""
import json
def s(desc, **kw): 
    d={"type":"string"}; d.update(kw); 
    if desc: d["description"]=desc
    return d
def i(desc, minimum=0, **kw):
    d={"type":"integer","minimum":minimum}; d.update(kw)
    if desc: d["description"]=desc
    return d
def b(desc, default):
    return {"type":"boolean","default":default,"description":desc}
def arr(items, desc=None, **kw):
    d={"type":"array","items":items}; d.update(kw)
    if desc: d["description"]=desc
    return d
def obj(props, desc=None, required=None):
    d={"type":"object","properties":props,"additionalProperties":False}
    if required: d["required"]=required
    if desc: d["description"]=desc
    return d
def enum(values, default, desc):
    return {"enum":values,"default":default,"description":desc}
nullable=lambda x: {"anyOf":[x,{"type":"null"}]}
env={"$ref":"#/$defs/env"}
health={"$ref":"#/$defs/health_check"}
selection={"$ref":"#/$defs/addon_selection"}
schema={
 "$schema":"https://json-schema.org/draft/2020-12/schema",
 "$id":"odoo-ci.schema.json",
 "title":".odoo-ci.yml",
 "description":"odoo-ci's configuration: every key, its type and its default (README.md, \"`.odoo-ci.yml`\"). `${VAR}` and `${VAR:-default}` take values from the environment where a key says so.",
 "type":"object",
 "additionalProperties":False,
 "required":["odoo"],
 "$defs":{
  "env":{"type":"object","description":"Environment variables for Odoo; `${VAR}` allowed in values.","propertyNames":{"pattern":"^[A-Z_][A-Z0-9_]*$"},"additionalProperties":{"type":["string","number","boolean"]}},
  "addon_selection":{"anyOf":[{"const":"all"},{"type":"array","items":{"type":"string"}}],"description":"`all`, or a list of addon names."},
  "health_check":obj({"path":s("The path that must answer 200.",default="/web/health"),"timeout_secs":i("How long to wait for it.",1,default=120),"settle_secs":i("Production: how long the new release is watched after the switch.",0,default=5)})
 },
 "properties":{
  "project":nullable(s("Scopes every name odoo-ci makes; default: the CI's repository, else the folder's name.")),
  "odoo":obj({
    "series":{"type":["string","number"],"description":"The Odoo series, 14.0 to 19.0 (quote it: \"17.0\")."},
    "image":s("The base image the generated Dockerfile starts FROM; default the official odoo:<series>."),
    "command":nullable(s("Run Odoo as a local process with this command instead of in Docker (e.g. `odoo`).")),
    "docker_network":s("The network Odoo's containers join.",default="host"),
    "keep_images":i("This project's newest images a build keeps, and release volumes a release keeps.",0,default=5),
    "extra_addons_paths":arr(s(None),"Addons from outside the repository (the Enterprise checkout); `${VAR}` allowed. Installed when needed, never tested.",default=[]),
  },required=["series"]),
  "addons_paths":arr(s(None),"Folders holding addons, inside the project; globs allowed.",default=["."]),
  "branches":arr(obj({"match":s("A glob: * ? [abc] {a,b}; * also matches /."),"stage":enum(["development","staging","production"],None,"The stage of the branches it matches.")},required=["match","stage"]),"First match wins; at most one rule maps to production."),
  "env":env,
  "development":obj({
    "install":selection,"test":nullable(selection),
    "preinstall":arr(s(None),"Odoo's own addons preinstalled in the cached template database.",default=[]),
    "test_tags":nullable(s("`--test-tags`; default `/addon` for each tested addon.")),
    "warnings":enum(["yellow","red","ignore"],"yellow","What a warning in the log does to the colour."),
    "ignore_warnings":arr(s(None),"Regexes of warnings that do not count.",default=[]),
    "shards":i("How many shards the tests are split into.",1,default=1),
    "keep_templates":i("Template databases kept.",0,default=3),
    "timeout_secs":i("The longest a development Odoo run may take.",1,default=3600),
    "env":env,
    "build":enum(["auto","always"],"auto","`auto`: mount the project into the base image when there is nothing to build."),
    "template_cache":nullable(s("The folder templates travel in between jobs.")),
    "browser":enum(["auto","always","never"],"auto","A browser in the development image for the tours: `auto` when a tested addon's tests start one."),
  }),
  "staging":obj({
    "push":enum(["fresh","update"],"fresh","A new copy of production per push, or the branch's copy updated."),
    "timeout_secs":i("The longest a staging Odoo run may take.",1,default=3600),
    "mail_catcher":nullable(s("host:port of a mail catcher the copy's mail goes to.")),
    "keep":i("Staging databases kept per branch.",1,default=3),
    "cron_allowlist":arr(s(None),"External ids of crons left active.",default=[]),
    "http_port":i("The staging server's port; 0: a free one.",0,default=0),
    "url":nullable(s("The URL reported for staging; `${VAR}` allowed.")),
    "data_dir":nullable(s("Host folder of staging's filestores; `${VAR}` allowed.")),
    "health_check":health,"env":env,
  }),
  "production":obj({
    "install":nullable(selection),
    "timeout_secs":nullable(i("The longest the update may take.",1)),
    "database":nullable(s("postgresql://user:password@host:port/db; use `${VAR}`.")),
    "data_dir":nullable(s("Production's Odoo data dir (its filestore); `${VAR}` allowed.")),
    "docker_host":nullable(s("Production's Docker engine (ssh://…, tcp://…); `${VAR}` allowed.")),
    "network":nullable(s("The network of the blue and green containers (default odoo-ci-production).")),
    "alias":nullable(s("The network alias the proxy resolves (default odoo).")),
    "db_host":nullable(s("The database host as Odoo's containers see it.")),
    "health_check":health,
    "snapshots":obj({"keep":i("Pre-deploy snapshots kept (pinned ones too).",0,default=5)}),
    "backup":nullable(obj({
       "repository":s("A restic repository (folder, sftp:, s3:…); `${VAR}` allowed."),
       "password":s("The repository's password: `${VAR}`."),
       "keep":obj({"daily":i(None,0,default=7),"weekly":i(None,0,default=4),"monthly":i(None,0,default=3)}),
       "before_update":b("A backup before every deploy that updates or installs modules.",True),
       "options":{"type":"object","additionalProperties":{"type":"string"},"description":"restic `-o` options."},
       "env":env,
    },required=["repository","password"])),
    "update_mode":enum(["version","hash"],"version","Update what went up in version, or also what changed without a bump."),
    "env":env,
  }),
  "version_guard":obj({
    "unbumped":enum(["yellow","red","off"],"yellow","An addon changed without a version bump."),
    "ignore":arr(s(None),"Globs (relative to the addon) whose changes need no bump."),
  }),
  "postgres":obj({"url":nullable(s("postgresql://user:password@host:port; use `${VAR}`.")),"image":nullable(s("Run PostgreSQL from this image (e.g. postgres:16)."))}),
  "report":obj({"github":enum(["auto","checks","statuses","both"],"auto","Where a stage's colour shows on GitHub."),"comment":b("One comment per stage on the pull/merge request, edited in place.",False)}),
 }
}
print(json.dumps(schema,indent=1,ensure_ascii=False))
