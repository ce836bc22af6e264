#!/usr/bin/env bash
# The composite action's script: installs odoo-ci from the repository the action lives in
# (cached in ~/.odoo-ci by the action), then runs the stage. odoo-ci itself writes the
# step summary, the outputs (colour, result) and the annotations.
set -euo pipefail

bin=${ODOO_CI_BIN:-}
if [ -z "$bin" ]; then
  bin="$HOME/.odoo-ci/bin/odoo-ci"
  if [ ! -x "$bin" ]; then
    echo "::group::Installing odoo-ci"
    cargo install --locked --root "$HOME/.odoo-ci" --path "$GITHUB_ACTION_PATH"
    echo "::endgroup::"
  fi
fi

case "${INPUT_STAGE:-}" in
  "") command=run ;;
  development) command="test" ;;
  staging) command=stage ;;
  production) command=deploy ;;
  *)
    echo "::error title=odoo-ci::input 'stage' is '${INPUT_STAGE}': use development, staging, production or leave it empty"
    exit 2
    ;;
esac

if [ -n "${INPUT_TOKEN:-}" ]; then
  echo "::add-mask::${INPUT_TOKEN}"
  export ODOO_CI_GITHUB_TOKEN="$INPUT_TOKEN"
fi

cd "${INPUT_WORKING_DIRECTORY:-.}"
if [ -n "${INPUT_REPORT_RESULT:-}" ]; then
  # shellcheck disable=SC2086
  exec "$bin" report --result "$INPUT_REPORT_RESULT" ${INPUT_ARGS:-}
fi
# INPUT_ARGS is split on spaces on purpose: it holds flags.
# shellcheck disable=SC2086
exec "$bin" --config "${INPUT_CONFIG:-.odoo-ci.yml}" "$command" ${INPUT_ARGS:-}
