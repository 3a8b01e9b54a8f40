# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# MariaDB 10.11 from Debian (mariadb-server), a test double of
# docker.io/library/mariadb:10.11: mysql renumbered to 999:999 as the
# official image does, data in /var/lib/mysql, socket and pid in /run/mysqld,
# listening on 0.0.0.0:3306 without name resolution, and the official image's
# docker-entrypoint.sh and healthcheck.sh contracts (both in this folder).
IMAGE=localhost/servicedb/mariadb:10.11
PACKAGES="mariadb-server"
USER_ID=999:999
ENTRYPOINT='["docker-entrypoint.sh"]'
CMD='["mariadbd"]'
PORTS=3306/tcp
ENV+=(LANG=C.UTF-8)
ESTIMATE="packages ~30 s"

before_packages() {
  add_user mysql 999 /var/lib/mysql /bin/bash
}

after_packages() {
  # The package's postinst made a data directory: the entrypoint makes its own.
  rm -rf "$ROOT/var/lib/mysql"
  install -d -o 999 -g 999 -m 0755 "$ROOT/var/lib/mysql"
  install -d -o 999 -g 999 -m 1777 "$ROOT/run/mysqld"
  # As the official image: no `user`, `bind-address` or `log` lines from the
  # package; its own settings in 05-servicedb.cnf.
  find "$ROOT/etc/mysql" -name '*.cnf' -print0 | xargs -0 grep -lZE '^(bind-address|log|user\s)' \
    | xargs -r -0 sed -Ei 's/^(bind-address|log|user\s)/#&/'
  printf '[mariadbd]\nbind-address = 0.0.0.0\nskip-name-resolve\nhost-cache-size = 0\n' \
    >"$ROOT/etc/mysql/mariadb.conf.d/05-servicedb.cnf"
  install -d -m 0755 "$ROOT/docker-entrypoint-initdb.d"
  put docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
  put healthcheck.sh /usr/local/bin/healthcheck.sh
}
