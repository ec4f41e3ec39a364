#!/usr/bin/env bash
# PostgreSQL and Redis for the scaled mode (`make run-scaled`) and the PostgreSQL half of the
# test suite: installed from Debian packages when missing (with nginx, the scaled mode's load
# balancer, which scripts/run_scaled.sh starts), started on loopback with passwords, their data
# under var/services/. Safe to run again: what runs is left running.
#
#   scripts/services.sh start               install if missing, start PostgreSQL and Redis, wait for both
#   scripts/services.sh stop                stop both (data kept)
#   scripts/services.sh restart postgres    (or redis) fault tests restart one server under load
#   scripts/services.sh status              what runs where
#   scripts/services.sh install             only the Debian packages
#
# Connection details go to var/services/services.env (mode 600; never committed): ports chosen
# once per checkout (so several checkouts on one machine do not collide), generated passwords.
# The servers run as the packages' own users (postgres, redis): PostgreSQL refuses to run as
# root. If this checkout's folder is not reachable by those users, their data lives in
# /var/tmp/supportbot-services-<hash> instead (the path is in services.env).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/var/services"
ENV_FILE="$STATE/services.env"
mkdir -p "$STATE"
chmod 711 "$STATE"  # traversable by the servers' users; services.env itself is 600

log() { echo "[services] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install_packages() {
  local missing=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/pg_ctl" ] || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ "${#missing[@]}" = 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "PostgreSQL, Redis and nginx are needed (missing: ${missing[*]}).
       On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y postgresql redis-server nginx"
  fi
  log "installing ${missing[*]} (apt-get, a minute or two)"
  export DEBIAN_FRONTEND=noninteractive
  # The packages would start their own system-wide servers (PostgreSQL's main cluster on 5432,
  # Redis on 6379, nginx on port 80): ours run under var/ instead. A policy-rc.d that says "no"
  # keeps the packages from starting anything; Debian's PostgreSQL is also told not to create
  # its main cluster.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
  fi
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  local status=0
  apt-get update -qq || status=$?
  [ "$status" = 0 ] && { apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?; }
  [ "$own_policy" = 1 ] && rm -f "$policy"
  [ "$status" = 0 ] || die "apt-get could not install ${missing[*]}"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port_from() {
  local port=$1
  while port_taken "$port"; do port=$((port + 1)); done
  echo "$port"
}

random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# As root, each server runs as its package's user (PostgreSQL refuses root); as anyone else,
# both run as that user, who owns their data.
as_user() {  # as_user USER COMMAND...
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}

give_to() {  # give_to USER PATH...
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then chown "$user": "$@"; fi
}

can_reach() {  # can OS user $1 write into folder $2?
  as_user "$1" test -w "$2" 2>/dev/null
}

ensure_env_file() {
  [ -f "$ENV_FILE" ] && return 0
  # A port range of its own per checkout (derived from its path): two checkouts on one
  # machine get different ports; a port someone else holds is skipped.
  local base=$(( 20000 + $(printf %s "$ROOT" | cksum | cut -d' ' -f1) % 400 * 100 ))
  local data="$STATE"
  umask 077
  cat > "$ENV_FILE.tmp" <<EOF
# Written by scripts/services.sh once; the servers it starts use these. Never commit.
SERVICES_DATA=$data
PG_HOST=127.0.0.1
PG_PORT=$(free_port_from $((base + 32)))
PG_SUPERUSER=supportbot
PG_PASSWORD=$(random_secret)
REDIS_HOST=127.0.0.1
REDIS_PORT=$(free_port_from $((base + 79)))
REDIS_PASSWORD=$(random_secret)
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

load_env() {
  ensure_env_file
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  PGBIN=$(pg_bin)
  PGDATA_DIR="$SERVICES_DATA/postgres/data"
  PGRUN_DIR="$SERVICES_DATA/postgres/run"
  REDIS_DIR="$SERVICES_DATA/redis"
}

choose_data_dir() {
  # The data must be writable by the postgres and redis users; fall back outside the checkout.
  if [ ! -d "$SERVICES_DATA/postgres" ]; then
    mkdir -p "$SERVICES_DATA/postgres" "$SERVICES_DATA/redis"
    give_to postgres "$SERVICES_DATA/postgres"
    give_to redis "$SERVICES_DATA/redis"
    if ! can_reach postgres "$SERVICES_DATA/postgres" || ! can_reach redis "$SERVICES_DATA/redis"; then
      rm -rf "$SERVICES_DATA/postgres" "$SERVICES_DATA/redis"
      local outside="/var/tmp/supportbot-services-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)"
      log "the postgres/redis users cannot reach $SERVICES_DATA; their data goes to $outside"
      mkdir -p "$outside/postgres" "$outside/redis"
      chmod 755 "$outside"
      give_to postgres "$outside/postgres"
      give_to redis "$outside/redis"
      sed -i "s#^SERVICES_DATA=.*#SERVICES_DATA=$outside#" "$ENV_FILE"
      load_env
    fi
  fi
}

pg_running() { [ -n "$PGBIN" ] && as_user postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

init_postgres() {
  [ -f "$PGDATA_DIR/PG_VERSION" ] && return 0
  log "creating the PostgreSQL cluster in $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR" "$PGRUN_DIR"
  give_to postgres "$PGDATA_DIR" "$PGRUN_DIR"
  chmod 700 "$PGDATA_DIR"
  local pwfile="$SERVICES_DATA/postgres/pwfile"
  (umask 077; printf '%s\n' "$PG_PASSWORD" > "$pwfile")
  give_to postgres "$pwfile"
  as_user postgres "$PGBIN/initdb" -D "$PGDATA_DIR" -U "$PG_SUPERUSER" --pwfile="$pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$SERVICES_DATA/postgres/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; cat "$SERVICES_DATA/postgres/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  # Later lines win over the defaults above them. Loopback TCP and a private socket folder,
  # every connection with the password (pg_hba.conf from --auth above).
  cat >> "$PGDATA_DIR/postgresql.conf" <<EOF

# --- scripts/services.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGRUN_DIR'
unix_socket_permissions = 0700
max_connections = 300
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
}

start_postgres() {
  pg_running && return 0
  init_postgres
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_user postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$SERVICES_DATA/postgres/server.log" -w -t 60 start \
    >/dev/null 9>&- || { tail -n 30 "$SERVICES_DATA/postgres/server.log" >&2; die "PostgreSQL did not start"; }
}

stop_postgres() {
  pg_running || return 0
  log "stopping PostgreSQL"
  as_user postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
}

redis_cli() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

redis_running() { [ "$(redis_cli ping 2>/dev/null)" = PONG ]; }

start_redis() {
  redis_running && return 0
  mkdir -p "$REDIS_DIR"
  give_to redis "$REDIS_DIR"
  # Locks and socket.io's messages are short-lived: nothing is written to disk.
  (umask 077; cat > "$REDIS_DIR/redis.conf" <<EOF
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
requirepass $REDIS_PASSWORD
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
save ""
appendonly no
maxclients 2000
EOF
  )
  give_to redis "$REDIS_DIR/redis.conf"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  as_user redis redis-server "$REDIS_DIR/redis.conf" 9>&-  # the daemon must not inherit our lock
  for _ in $(seq 1 150); do redis_running && return 0; sleep 0.2; done
  tail -n 30 "$REDIS_DIR/redis.log" >&2
  die "Redis did not start"
}

stop_redis() {
  redis_running || return 0
  log "stopping Redis"
  redis_cli shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 150); do redis_running || return 0; sleep 0.2; done
  die "Redis did not stop"
}

status() {
  if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT (data $PGDATA_DIR)"; else echo "postgres: stopped"; fi
  if redis_running; then echo "redis:    running on 127.0.0.1:$REDIS_PORT"; else echo "redis:    stopped"; fi
  echo "settings: $ENV_FILE"
}

command=${1:-start}
target=${2:-all}
exec 9>"$STATE/.lock"
flock -w 300 9 || die "another scripts/services.sh has held $STATE/.lock for 5 minutes"
case "$command" in
  install) install_packages ;;
  start)
    install_packages
    load_env
    choose_data_dir
    [ "$target" = redis ] || start_postgres
    [ "$target" = postgres ] || start_redis
    ;;
  stop)
    load_env
    [ "$target" = redis ] || stop_postgres
    [ "$target" = postgres ] || stop_redis
    ;;
  restart)
    load_env
    case "$target" in
      postgres) stop_postgres; start_postgres ;;
      redis) stop_redis; start_redis ;;
      all) stop_postgres; stop_redis; start_postgres; start_redis ;;
      *) die "restart what? postgres or redis" ;;
    esac
    ;;
  status) load_env; status ;;
  *) die "usage: scripts/services.sh start|stop|restart [postgres|redis]|status|install" ;;
esac
