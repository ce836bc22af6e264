#!/usr/bin/env bash
# The template cache's key (`odoo-ci cache key`), as the step output `key`, so that
# actions/cache restores the template folder before the stage runs. The key follows the
# executor the stage will use (`--executor local` in the args).
set -euo pipefail

bin=${ODOO_CI_BIN:?the setup step gives the path of odoo-ci}
executor=docker
case " ${INPUT_ARGS:-} " in
  *" --executor local "* | *" --executor=local "*) executor=local ;;
esac
cd "${INPUT_WORKING_DIRECTORY:-.}"
key=$("$bin" --config "${INPUT_CONFIG:-.odoo-ci.yml}" cache key --executor "$executor")
echo "key=$key" >>"$GITHUB_OUTPUT"
