#!/usr/bin/env bash
# tripod: the etcd phase of a master's bootstrap.
#
# Issues this member's own server and peer certificates for its address (signed by the cluster's
# etcd CA in ETCD_PKI_DIR, unless they already exist), then runs one etcd member with TLS on both
# the client and the peer side (client-cert-auth everywhere):
#   - ETCD_EXEC=1: exec etcd in the foreground (tests, the simulator's sandbox);
#   - otherwise:   write a systemd unit with Restart=always and start it (a real node).
#
# Inputs (environment):
#   ETCD_NAME                  member name (tripod uses the instance id)               required
#   ETCD_IP                    address to listen on and advertise                       required
#   ETCD_CLIENT_PORT           client port                                              2379
#   ETCD_PEER_PORT             peer port                                                2380
#   ETCD_DATA_DIR              data directory                                           /var/lib/etcd
#   ETCD_PKI_DIR               holds ca.crt + ca.key; gets server.* and peer.*          /etc/kubernetes/pki/etcd
#   ETCD_INITIAL_CLUSTER       name=peerURL,...                                         this member alone
#   ETCD_INITIAL_CLUSTER_STATE new (the seed) | existing (a join)                       new
#   ETCD_INITIAL_CLUSTER_TOKEN must be the same on every member                         tripod-etcd
#   ETCD_SCHEME                https | http (http only for tests: no TLS at all)        https
#   ETCD_HEARTBEAT_INTERVAL    milliseconds                                             100
#   ETCD_ELECTION_TIMEOUT      milliseconds                                             1000
#   ETCD_BIN                   the etcd binary                                          etcd
#   ETCD_EXEC                  1 = exec in the foreground                               0
#   ETCD_UNIT_DIR              where the systemd unit goes                              /etc/systemd/system
#   ETCD_CERT_DAYS             validity of the issued certificates                      3650
# Extra arguments are passed to etcd unchanged.
set -euo pipefail

log() { printf '[etcd-member] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

: "${ETCD_NAME:?ETCD_NAME is required (the member name)}"
: "${ETCD_IP:?ETCD_IP is required (the address to listen on and advertise)}"
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-2379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-2380}"
ETCD_DATA_DIR="${ETCD_DATA_DIR:-/var/lib/etcd}"
ETCD_PKI_DIR="${ETCD_PKI_DIR:-/etc/kubernetes/pki/etcd}"
ETCD_SCHEME="${ETCD_SCHEME:-https}"
ETCD_INITIAL_CLUSTER_STATE="${ETCD_INITIAL_CLUSTER_STATE:-new}"
ETCD_INITIAL_CLUSTER_TOKEN="${ETCD_INITIAL_CLUSTER_TOKEN:-tripod-etcd}"
ETCD_HEARTBEAT_INTERVAL="${ETCD_HEARTBEAT_INTERVAL:-100}"
ETCD_ELECTION_TIMEOUT="${ETCD_ELECTION_TIMEOUT:-1000}"
ETCD_BIN="${ETCD_BIN:-etcd}"
ETCD_EXEC="${ETCD_EXEC:-0}"
ETCD_UNIT_DIR="${ETCD_UNIT_DIR:-/etc/systemd/system}"
ETCD_CERT_DAYS="${ETCD_CERT_DAYS:-3650}"

case "$ETCD_SCHEME" in
  https | http) ;;
  *) die "ETCD_SCHEME must be https or http, got '$ETCD_SCHEME'" ;;
esac
case "$ETCD_INITIAL_CLUSTER_STATE" in
  new | existing) ;;
  *) die "ETCD_INITIAL_CLUSTER_STATE must be new or existing, got '$ETCD_INITIAL_CLUSTER_STATE'" ;;
esac
for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$ETCD_HEARTBEAT_INTERVAL" "$ETCD_ELECTION_TIMEOUT"; do
  case "$port" in
    '' | *[!0-9]*) die "ports and intervals must be numbers, got '$port'" ;;
  esac
done

CLIENT_URL="${ETCD_SCHEME}://${ETCD_IP}:${ETCD_CLIENT_PORT}"
PEER_URL="${ETCD_SCHEME}://${ETCD_IP}:${ETCD_PEER_PORT}"
ETCD_INITIAL_CLUSTER="${ETCD_INITIAL_CLUSTER:-${ETCD_NAME}=${PEER_URL}}"

case ",${ETCD_INITIAL_CLUSTER}," in
  *",${ETCD_NAME}=${PEER_URL},"*) ;;
  *) die "ETCD_INITIAL_CLUSTER '${ETCD_INITIAL_CLUSTER}' does not contain this member (${ETCD_NAME}=${PEER_URL})" ;;
esac

# Issues "$1".crt/"$1".key in ETCD_PKI_DIR for this member's address, for both server and client use
# (etcd's gateway and its peers dial with these certificates too). Kept if it already exists.
issue_cert() {
  local base="$ETCD_PKI_DIR/$1" ext
  if [ -s "$base.crt" ] && [ -s "$base.key" ]; then
    log "keeping existing $base.crt"
    return 0
  fi
  if [ ! -s "$ETCD_PKI_DIR/ca.crt" ] || [ ! -s "$ETCD_PKI_DIR/ca.key" ]; then
    die "the etcd CA (ca.crt and ca.key) is missing in $ETCD_PKI_DIR"
  fi
  ext="$(mktemp)"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=IP:${ETCD_IP},IP:127.0.0.1,DNS:localhost,DNS:${ETCD_NAME}" >"$ext"
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$base.key.tmp" -subj "/CN=${ETCD_NAME}" -out "$base.csr" 2>/dev/null
  )
  openssl x509 -req -in "$base.csr" -CA "$ETCD_PKI_DIR/ca.crt" -CAkey "$ETCD_PKI_DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$ETCD_CERT_DAYS" -sha256 -extfile "$ext" \
    -out "$base.crt.tmp" 2>/dev/null || die "could not issue $base.crt"
  rm -f "$ext" "$base.csr"
  mv "$base.key.tmp" "$base.key"
  mv "$base.crt.tmp" "$base.crt"
  log "issued $base.crt for ${ETCD_IP}"
}

mkdir -p "$ETCD_DATA_DIR"
chmod 700 "$ETCD_DATA_DIR"

args=(
  "--name=${ETCD_NAME}"
  "--data-dir=${ETCD_DATA_DIR}"
  "--listen-client-urls=${CLIENT_URL}"
  "--advertise-client-urls=${CLIENT_URL}"
  "--listen-peer-urls=${PEER_URL}"
  "--initial-advertise-peer-urls=${PEER_URL}"
  "--initial-cluster=${ETCD_INITIAL_CLUSTER}"
  "--initial-cluster-state=${ETCD_INITIAL_CLUSTER_STATE}"
  "--initial-cluster-token=${ETCD_INITIAL_CLUSTER_TOKEN}"
  "--heartbeat-interval=${ETCD_HEARTBEAT_INTERVAL}"
  "--election-timeout=${ETCD_ELECTION_TIMEOUT}"
  "--strict-reconfig-check=true"
)

if [ "$ETCD_SCHEME" = https ]; then
  mkdir -p "$ETCD_PKI_DIR"
  issue_cert server
  issue_cert peer
  args+=(
    "--cert-file=${ETCD_PKI_DIR}/server.crt"
    "--key-file=${ETCD_PKI_DIR}/server.key"
    "--client-cert-auth=true"
    "--trusted-ca-file=${ETCD_PKI_DIR}/ca.crt"
    "--peer-cert-file=${ETCD_PKI_DIR}/peer.crt"
    "--peer-key-file=${ETCD_PKI_DIR}/peer.key"
    "--peer-client-cert-auth=true"
    "--peer-trusted-ca-file=${ETCD_PKI_DIR}/ca.crt"
  )
fi
args+=("$@")

log "member ${ETCD_NAME}: client ${CLIENT_URL}, peer ${PEER_URL}, cluster state ${ETCD_INITIAL_CLUSTER_STATE}"

if [ "$ETCD_EXEC" = 1 ]; then
  # etcd reads ETCD_* variables as flags and refuses to start when one repeats a flag: every input
  # is in args now, so none of them may reach etcd's environment.
  etcd_bin="$ETCD_BIN"
  while IFS= read -r var; do
    case "$var" in ETCD_*) unset "$var" ;; esac
  done < <(compgen -e)
  exec "$etcd_bin" "${args[@]}"
fi

# A real node: a systemd service that comes back by itself when etcd crashes.
bin_path="$(command -v "$ETCD_BIN")" || die "etcd binary '$ETCD_BIN' not found"
unit="$ETCD_UNIT_DIR/etcd.service"
mkdir -p "$ETCD_UNIT_DIR"
{
  printf '%s\n' \
    "# Written by tripod's etcd-member.sh" \
    "[Unit]" \
    "Description=etcd member ${ETCD_NAME} (tripod)" \
    "After=network-online.target" \
    "Wants=network-online.target" \
    "" \
    "[Service]" \
    "Type=notify" \
    "ExecStart=${bin_path} ${args[*]}" \
    "Restart=always" \
    "RestartSec=5" \
    "LimitNOFILE=65536" \
    "TimeoutStartSec=0" \
    "" \
    "[Install]" \
    "WantedBy=multi-user.target"
} >"$unit.tmp"
mv "$unit.tmp" "$unit"
log "wrote $unit"
systemctl daemon-reload
systemctl enable etcd.service
systemctl restart etcd.service
log "etcd.service started"
