# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# Redis from Debian, a test double of docker.io/library/redis:7.2. Bookworm
# has redis-server 7.0.x: it stands for the catalogue's 7.2 here (the
# operator's ACL file, --aclfile, --appendonly and the multi-part AOF that
# restores rely on are all 7.0 features). redis renumbered to 999:999, data
# in /data (the working directory), and the official image's
# docker-entrypoint.sh contract (this folder).
IMAGE=localhost/servicedb/redis:7
PACKAGES="redis-server"
USER_ID=999:999
ENTRYPOINT='["docker-entrypoint.sh"]'
CMD='["redis-server"]'
WORKDIR=/data
PORTS=6379/tcp
ESTIMATE="packages ~10 s"

before_packages() {
  add_user redis 999 /var/lib/redis /usr/sbin/nologin
}

after_packages() {
  install -d -o 999 -g 999 -m 0755 "$ROOT/data"
  put docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
}
