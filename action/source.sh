#!/usr/bin/env bash
# Where the action's odoo-ci comes from. A release tag (the action used as
# acme/odoo-ci@v1.2.3, or pinned by a release commit's tag) downloads that release's
# binary, checked against its SHA256SUMS, in seconds. Any other ref (a branch, a commit)
# builds from the action's source, cached under a key of that source's content: a
# branch's new commits get a new binary (a key of Cargo.lock alone never changed, and
# hashFiles() cannot read the action's folder, which is outside GITHUB_WORKSPACE).
set -euo pipefail

ref=${ACTION_REF:-}
if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.]+)?$ ]]; then
  echo "release=$ref" >>"$GITHUB_OUTPUT"
fi
cd "$GITHUB_ACTION_PATH"
source_hash=$(find Cargo.toml Cargo.lock src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
echo "cache-key=odoo-ci-source-${RUNNER_OS:-linux}-${RUNNER_ARCH:-x64}-$source_hash" >>"$GITHUB_OUTPUT"
