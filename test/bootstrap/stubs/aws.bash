# The aws stand-in: SSM get/put over files in $SSM, S3 get-object from files in $S3 (key with / as _);
# everything else succeeds silently. A value given as file://PATH is read from PATH, as the CLI does;
# tripod's own rules are enforced: a SecureString's value never on the command line, and the file it
# comes from 0600 (its mode is recorded as "file-mode PATH MODE"). `aws --version` answers
# $AWS_STUB_VERSION (default: the pinned TRIPOD_AWS_CLI_VERSION, so nothing is installed; no AWS call).
# With $AWS_LOG set, each call's arguments are appended to it (separated by \x1f, calls by \x1e) for
# the IAM contract of the node roles (test/integration/bootstrap-bats.test.ts).
if [ "$1" = --version ]; then
  echo "aws-cli/${AWS_STUB_VERSION:-$TRIPOD_AWS_CLI_VERSION} Python/3.12.6 Linux/6.8.0 exe/x86_64.ubuntu.24"
  exit 0
fi
if [ -n "${AWS_LOG:-}" ]; then
  (IFS=$'\x1f' && printf '%s\x1e' "$*" >>"$AWS_LOG")
fi
name='' value='' overwrite=0 s3key='' type=''
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --name) name=${args[i + 1]} ;;
    --type) type=${args[i + 1]} ;;
    --value) value=${args[i + 1]} ;;
    --overwrite) overwrite=1 ;;
    --key) s3key=${args[i + 1]} ;;
  esac
done
key=$(tr / _ <<<"$name")
case "$1 $2" in
  "ssm get-parameter")
    polls=$(($(cat "$SSM/$key.polls" 2>/dev/null || echo 0) + 1))
    echo "$polls" >"$SSM/$key.polls"
    [ -f "$SSM/$key" ] || exit 255
    [ "$polls" -gt "$(cat "$SSM/$key.after" 2>/dev/null || echo 0)" ] || exit 255
    cat "$SSM/$key"
    ;;
  "ssm put-parameter")
    case "$value" in
      file://*)
        f=${value#file://}
        [ -f "$f" ] || { echo "Error parsing parameter '--value': Unable to load paramfile $value" >&2 && exit 252; }
        echo "file-mode $f $(stat -c %a "$f")" >>"$CALLS"
        [ "$(stat -c %a "$f")" = 600 ] || { echo "aws stand-in: $f holds a secret but is mode $(stat -c %a "$f")" >&2 && exit 252; }
        value=$(cat "$f")
        ;;
      *) [ "$type" != SecureString ] || { echo "aws stand-in: a SecureString value on the command line" >&2 && exit 252; } ;;
    esac
    if [ -f "$SSM/$key" ] && [ "$overwrite" = 0 ]; then
      echo "ParameterAlreadyExists" >&2
      exit 254
    fi
    printf '%s' "$value" >"$SSM/$key"
    ;;
  "s3api get-object")
    src="${S3:-/nonexistent}/$(tr / _ <<<"$s3key")"
    [ -f "$src" ] || exit 254
    out=${args[${#args[@]} - 1]}
    cp "$src" "$out"
    echo "file-mode $out $(stat -c %a "$out")" >>"$CALLS"
    ;;
  "elbv2 describe-load-balancers") echo internal-t1-api-123.elb.eu-west-1.amazonaws.com ;;
esac
exit 0
