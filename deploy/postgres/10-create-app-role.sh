#!/usr/bin/env bash
# Create bandwise's database role at cluster initialisation: LOGIN, CREATEDB (backup
# verification restores into a scratch database), no superuser, owner of the database.
# The official image runs this once, as its superuser, before the server listens on TCP.
set -euo pipefail

: "${BANDWISE_APP_USER:?BANDWISE_APP_USER is required (POSTGRES_USER in .env)}"
: "${BANDWISE_APP_PASSWORD:?BANDWISE_APP_PASSWORD is required (POSTGRES_PASSWORD in .env)}"
: "${POSTGRES_DB:?POSTGRES_DB is required}"

if [ "$BANDWISE_APP_USER" = "${POSTGRES_USER:-postgres}" ]; then
    echo "POSTGRES_USER (the application role) must differ from POSTGRES_SUPERUSER" >&2
    exit 1
fi

# psql variables quote the values (:'x' as a literal, :"x" as an identifier): no injection.
psql --no-psqlrc --set ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB" \
    --set app_user="$BANDWISE_APP_USER" \
    --set app_password="$BANDWISE_APP_PASSWORD" \
    --set app_db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user')
\gexec
ALTER ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION
    PASSWORD :'app_password';
ALTER DATABASE :"app_db" OWNER TO :"app_user";
ALTER SCHEMA public OWNER TO :"app_user";
-- pg_stat_statements is preloaded but deliberately NOT created in the application's database:
-- it is not a trusted extension, so a dump containing it cannot be restored by this role, and
-- every backup would fail its verification restore (found on a real engine by
-- tests/deploy/engine). Statement statistics stay off (pg_statement_mean_seconds is absent).
GRANT pg_monitor TO :"app_user";
SQL
echo "created application role $BANDWISE_APP_USER (no superuser) owning database $POSTGRES_DB"
