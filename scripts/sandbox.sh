#!/usr/bin/env bash
# The main job on one machine: sets up (etcd, node packages, ...), then runs `tripod sandbox`:
# the example cluster provisioned into the local simulator, masters as real etcd processes, and the
# article's failure scenarios played one after another. Extra arguments go to `tripod sandbox`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/tripod.js sandbox "$@"
