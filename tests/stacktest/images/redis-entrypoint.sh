#!/bin/sh
# The official redis image's rule: `redis-server` without a config file gets
# `--protected-mode no`, so that clients on the container network may connect.
set -eu
if [ "${1:-}" = redis-server ] && [ ! -f "${2:-}" ]; then
  set -- "$@" --protected-mode no
fi
exec "$@"
