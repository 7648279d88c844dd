#!/usr/bin/env bash
# tripod-node: the entry point on a node (installed as /opt/tripod/tripod-node by the user data).
#   tripod-node boot              bootstrap this node (cloud-init runs it once)
#   tripod-node watchdog          restart dead services; report the instance Unhealthy if they stay dead
#   tripod-node rotate-token      (masters) keep the worker join token in SSM fresh
#   tripod-node member-started    (masters) nudge the reconciler while the etcd member is a learner
#   tripod-node restore-watch     (masters) restore etcd from a snapshot when chosen as a restore's seed
#   tripod-node watch-lifecycle   wait for Terminating:Wait, then leave cleanly
#   tripod-node leave             leave now (masters: after the etcd member is removed; workers: drain)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
# shellcheck source=/dev/null
. "${TRIPOD_ENV_FILE:-/etc/tripod/node.env}"
: "${TRIPOD_ROLE:?TRIPOD_ROLE is not set: is /etc/tripod/node.env there?}"
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=master.sh disable=SC1091
if [ "$TRIPOD_ROLE" = master ]; then . "$here/master.sh"; else . "$here/worker.sh"; fi

case "${1:-}" in
  boot)
    # A master whose bootstrap stops says so (its boot-failed record); a worker just stops.
    if [ "$TRIPOD_ROLE" = master ]; then trap 'report_boot_failure $?' EXIT; fi
    "${TRIPOD_ROLE}_boot"
    trap - EXIT
    ;;
  watchdog)
    node_identity
    watchdog_check
    ;;
  rotate-token) rotate_worker_token ;;
  member-started)
    node_identity
    member_started_loop
    ;;
  restore-watch)
    node_identity
    restore_watch
    ;;
  watch-lifecycle)
    node_identity
    watch_lifecycle
    ;;
  leave)
    node_identity
    leave
    ;;
  *)
    echo "usage: tripod-node boot|watchdog|rotate-token|member-started|restore-watch|watch-lifecycle|leave" >&2
    exit 2
    ;;
esac
