#!/bin/bash
# The official image's /entrypoint.sh, as the fake image runs it. Written from odoo/docker:
# `16.0/entrypoint.sh` (STYLE=append, the older contract: the connection comes from the
# environment and is appended *after* the arguments given, so it wins over them, password
# included, on the process's command line) and `18.0/entrypoint.sh` (STYLE=config: the
# environment is written into $ODOO_RC, which wait-for-psql.py and Odoo read). Both first
# wait up to 30 s for that server, unless the first argument is another command.
set -e

if [ -v PASSWORD_FILE ]; then
    PASSWORD="$(< "$PASSWORD_FILE")"
fi

if [ "${FAKE_ENTRYPOINT_STYLE:-append}" = config ]; then
    export DB_HOST=${DB_HOST:=${HOST:=${DB_PORT_5432_TCP_ADDR:=db}}}
    export DB_PORT=${DB_PORT:=${PORT:=${DB_PORT_5432_TCP_PORT:=5432}}}
    export DB_USER=${DB_USER:=${USER:=${DB_ENV_POSTGRES_USER:=${POSTGRES_USER:=odoo}}}}
    export DB_PASSWORD=${DB_PASSWORD:=${PASSWORD:=${DB_ENV_POSTGRES_PASSWORD:=${POSTGRES_PASSWORD:=odoo}}}}
    export ADDONS_PATH=${ADDONS_PATH:-/mnt/extra-addons}
    export DATA_DIR=${DATA_DIR:-/var/lib/odoo}
    # envsubst, as the image does (gettext-base is not in the fake's base: python does it).
    python3 -c 'import os, sys; sys.stdout.write(os.path.expandvars(sys.stdin.read()))' \
        < /etc/odoo/odoo.conf.template > "${ODOO_RC}"
    DB_ARGS=()
else
    : "${HOST:=${DB_PORT_5432_TCP_ADDR:=db}}"
    : "${PORT:=${DB_PORT_5432_TCP_PORT:=5432}}"
    : "${USER:=${DB_ENV_POSTGRES_USER:=${POSTGRES_USER:=odoo}}}"
    : "${PASSWORD:=${DB_ENV_POSTGRES_PASSWORD:=${POSTGRES_PASSWORD:=odoo}}}"
    DB_ARGS=()
    check_config() {
        param="$1"
        value="$2"
        if grep -q -E "^\s*\b${param}\b\s*=" "$ODOO_RC"; then
            value=$(grep -E "^\s*\b${param}\b\s*=" "$ODOO_RC" | cut -d " " -f3 | sed 's/["\n\r]//g')
        fi
        DB_ARGS+=("--${param}")
        DB_ARGS+=("${value}")
    }
    check_config "db_host" "$HOST"
    check_config "db_port" "$PORT"
    check_config "db_user" "$USER"
    check_config "db_password" "$PASSWORD"
fi

case "$1" in
    -- | odoo)
        shift
        if [[ "$1" == "scaffold" ]]; then
            exec odoo "$@"
        else
            wait-for-psql.py "${DB_ARGS[@]}" --timeout=30
            exec odoo "$@" "${DB_ARGS[@]}"
        fi
        ;;
    -*)
        wait-for-psql.py "${DB_ARGS[@]}" --timeout=30
        exec odoo "$@" "${DB_ARGS[@]}"
        ;;
    *)
        exec "$@"
        ;;
esac

exit 1
