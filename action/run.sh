#!/usr/bin/env bash
# The composite action's script: runs the stage with the odoo-ci the setup step installed
# (installing it here when run on its own: see setup.sh). odoo-ci itself writes the step
# summary, the outputs and the annotations.
set -euo pipefail

bin=${ODOO_CI_BIN:-}
if [ -z "$bin" ]; then
  bin=$(bash "$GITHUB_ACTION_PATH/action/setup.sh")
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
# Where the results go (`--output` in the args, else odoo-ci-output) and the artifact name
# the action keeps them under: one per job and shard, so a matrix of shards keeps each.
output_dir=odoo-ci-output
shard=""
prev=""
for word in ${INPUT_ARGS:-}; do
  case "$prev" in
    --output) output_dir=$word ;;
    --shard) shard=$word ;;
  esac
  case "$word" in
    --output=*) output_dir=${word#--output=} ;;
    --shard=*) shard=${word#--shard=} ;;
  esac
  prev=$word
done
case "$output_dir" in /*) ;; *) output_dir="$PWD/$output_dir" ;; esac
artifact="odoo-ci-output-${GITHUB_JOB:-job}${shard:+-${shard//\//-of-}}"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "output-dir=$output_dir"; echo "artifact=$artifact"; } >>"$GITHUB_OUTPUT"
fi
# The template cache travels with the development stage (test, or run on its branches).
extra=()
if [ -n "${INPUT_TEMPLATE_CACHE:-}" ] && { [ "$command" = test ] || [ "$command" = run ]; }; then
  extra=(--template-cache "$INPUT_TEMPLATE_CACHE")
fi
# INPUT_ARGS is split on spaces on purpose: it holds flags.
# shellcheck disable=SC2086
exec "$bin" --config "${INPUT_CONFIG:-.odoo-ci.yml}" "$command" "${extra[@]}" ${INPUT_ARGS:-}
