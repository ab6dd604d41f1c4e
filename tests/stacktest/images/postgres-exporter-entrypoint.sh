#!/bin/sh
# Debian's postgres-exporter 0.11 refuses --collector.postmaster (the official 0.16 image's
# flag, given by compose): drop it, and read the same metric from a custom query.
set -eu
for arg in "$@"; do
  shift
  [ "$arg" = --collector.postmaster ] || set -- "$@" "$arg"
done
export PG_EXPORTER_EXTEND_QUERY_PATH=/etc/postgres-exporter/queries.yml
exec /usr/bin/prometheus-postgres-exporter "$@"
