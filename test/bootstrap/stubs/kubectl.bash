# The kubectl stand-in: `create token` prints a service account token (a JWT's shape); a kubeconfig
# given with --kubeconfig is recorded with its mode ("file-mode PATH MODE": it may hold a token).
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --kubeconfig ] && [ -f "${args[i + 1]}" ]; then
    echo "file-mode ${args[i + 1]} $(stat -c %a "${args[i + 1]}")" >>"$CALLS"
  fi
done
case " $* " in
  *" create token "*) echo eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkcmFpbmVyIn0.c2lnbmF0dXJl ;;
esac
exit 0
