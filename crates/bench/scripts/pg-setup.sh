#!/usr/bin/env bash
# starts a throwaway PostgreSQL 15 on port 55439 (as user postgres), default settings
set -e
B=/usr/lib/postgresql/15/bin
rm -rf /tmp/pgb && mkdir -p /tmp/pgb && chown postgres /tmp/pgb
su postgres -c "$B/initdb -D /tmp/pgb/data -U postgres -A trust >/dev/null"
su postgres -c "$B/pg_ctl -D /tmp/pgb/data -o '-p 55439 -k /tmp/pgb' -l /tmp/pgb/log start >/dev/null"
