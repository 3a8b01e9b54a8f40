#!/bin/sh
# Runs once, when the official image initialises an empty data directory:
# creates the service's login from a SCRAM-SHA-256 verifier (never the clear
# text password) and a database that only this login owns and may connect to.
# psql's :"var" and :'var' quote the identifiers and the literal.
set -eu
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=app_user="$SERVICEDB_APP_USERNAME" \
  --set=app_db="$SERVICEDB_APP_DATABASE" \
  --set=app_verifier="$SERVICEDB_APP_PASSWORD_SCRAM" <<'SQL'
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'app_verifier';
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"app_db" TO :"app_user";
SQL
