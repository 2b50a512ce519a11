#!/bin/bash
# Runs COMMAND... with a private PostgreSQL cluster: initdb into a temporary directory,
# listening on 127.0.0.1 at a free port and on a Unix socket in that directory only.
# OCHRE_TEST_PG is its URL. The cluster is stopped and removed when COMMAND ends, whatever
# its outcome; COMMAND's exit code is this script's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh" --postgres

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "with-postgres: no PostgreSQL server binaries in /usr/lib/postgresql" >&2; exit 2; }

dir=$(mktemp -d /tmp/ochre-pg.XXXXXX)
chmod 755 "$dir"
# The server refuses to run as root: it runs as the postgres user, which owns the cluster.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi

stop() {
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${as_owner[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 2; }

# A free port: the first one nothing listens on; a lost race is tried again.
started=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  port=$(( 20000 + (RANDOM % 20000) ))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  if "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=${OCHRE_PG_FSYNC:-off}" \
      start >/dev/null 2>&1; then
    started=yes
    break
  fi
done
[ -n "$started" ] || { echo "with-postgres: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 2; }

export OCHRE_TEST_PG="postgresql://postgres@127.0.0.1:$port/postgres"
export OCHRE_TEST_PG_DIR="$dir"
export OCHRE_TEST_PG_BIN="$pgbin"
echo "with-postgres: a private cluster at $OCHRE_TEST_PG"
set +e
"$@"
rc=$?
exit $rc
