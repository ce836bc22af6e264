#!/usr/bin/env bash
# Installs odoo-ci for the action: the released binary of the action's tag (checksum
# verified), else built from the action's source (cached in ~/.odoo-ci by action.yml).
# Prints the binary's path, and writes it as the step output `bin` when run as a step.
set -euo pipefail

bin="$HOME/.odoo-ci/bin/odoo-ci"
if [ ! -x "$bin" ] && [ -n "${ODOO_CI_RELEASE:-}" ]; then
  echo "::group::Installing odoo-ci ${ODOO_CI_RELEASE} (released binary, checksum verified)" >&2
  sh "$GITHUB_ACTION_PATH/install.sh" "$ODOO_CI_RELEASE" "$HOME/.odoo-ci/bin" >&2 ||
    echo "::warning title=odoo-ci::no released binary for ${ODOO_CI_RELEASE}; building from source" >&2
  echo "::endgroup::" >&2
fi
if [ ! -x "$bin" ]; then
  echo "::group::Building odoo-ci from source" >&2
  cargo install --locked --root "$HOME/.odoo-ci" --path "$GITHUB_ACTION_PATH" >&2
  echo "::endgroup::" >&2
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "bin=$bin" >>"$GITHUB_OUTPUT"
fi
echo "$bin"
