#!/usr/bin/env bash
# The composite action's script: installs odoo-ci (the released binary of the action's
# tag, else built from the action's source and cached in ~/.odoo-ci), then runs the
# stage. odoo-ci itself writes the step summary, the outputs and the annotations.
set -euo pipefail

bin=${ODOO_CI_BIN:-}
if [ -z "$bin" ]; then
  bin="$HOME/.odoo-ci/bin/odoo-ci"
  if [ ! -x "$bin" ] && [ -n "${ODOO_CI_RELEASE:-}" ]; then
    echo "::group::Installing odoo-ci ${ODOO_CI_RELEASE} (released binary, checksum verified)"
    sh "$GITHUB_ACTION_PATH/install.sh" "$ODOO_CI_RELEASE" "$HOME/.odoo-ci/bin" ||
      echo "::warning title=odoo-ci::no released binary for ${ODOO_CI_RELEASE}; building from source"
    echo "::endgroup::"
  fi
  if [ ! -x "$bin" ]; then
    echo "::group::Building odoo-ci from source"
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
