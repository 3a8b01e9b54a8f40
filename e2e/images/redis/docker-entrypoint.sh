#!/bin/sh
# A TEST DOUBLE of the entrypoint of the official `redis` image
# (docker-library/redis, docker-entrypoint.sh), for the image e2e/images.sh
# builds from Debian's redis-server. Same contract: a first argument that is
# an option (`--aclfile ...`) or a `*.conf` file is given to redis-server;
# started as root it makes /data (the working directory) redis's and re-runs
# itself as redis (setpriv instead of gosu); the umask becomes 0077 when it
# is the default 0022. The operator passes
#   redis-server --aclfile /etc/servicedb/users.acl --dir /data --appendonly yes --protected-mode no
# Debian's redis-server without a config file listens on every address.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

um=$(umask)
if [ "$um" = 0022 ]; then
  umask 0077
fi

exec "$@"
