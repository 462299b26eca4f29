# Shared parts of the callgrind-*.sh scripts: start `rkube server` under callgrind (counting
# off), client credentials for curl, request files for `curl --parallel -K`, and the count.
# Sourced; sets D (temp dir), PORT, VP (valgrind's pid), C (curl credentials).

cg_start() { # BIN OUT
  D=$(mktemp -d); PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  valgrind --tool=callgrind --callgrind-out-file=$2 --instr-atstart=no $1 server --data-dir $D --port $PORT --bind-address 127.0.0.1 --disable-controllers --disable-scheduler > $D/log 2>&1 &
  VP=$!
  for i in $(seq 1 600); do curl -sk https://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break; sleep 0.5; done
  python3 - "$D/admin.kubeconfig" "$D" <<'PY'
import sys,yaml,base64
kc=yaml.safe_load(open(sys.argv[1])); u=kc['users'][0]['user']; c=kc['clusters'][0]['cluster']
d=sys.argv[2]
open(d+'/ca.crt','wb').write(base64.b64decode(c['certificate-authority-data']))
open(d+'/c.crt','wb').write(base64.b64decode(u['client-certificate-data']))
open(d+'/c.key','wb').write(base64.b64decode(u['client-key-data']))
PY
  C="--cacert $D/ca.crt --cert $D/c.crt --key $D/c.key"
  curl $C -s -o /dev/null -X POST -H 'Content-Type: application/json' https://127.0.0.1:$PORT/api/v1/namespaces -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cg"}}'
}

# Request file for `curl --parallel -K`: one POST per line of stdin, each line "PATH BODY".
cg_requests() { # PROTO
  python3 -c '
import sys
proto, d, port = sys.argv[1].lstrip("-"), sys.argv[2], sys.argv[3]
out = []
for line in sys.stdin:
    path, body = line.rstrip("\n").split(" ", 1)
    out.append("url = \"https://127.0.0.1:%s%s\"\ndata = \"%s\"\nheader = \"Content-Type: application/json\"\noutput = /dev/null\nsilent\ncacert = %s/ca.crt\ncert = %s/c.crt\nkey = %s/c.key\n%s\n" % (port, path, body.replace("\"", "\\\""), d, d, d, proto))
print("next\n".join(out))
' "$1" "$D" "$PORT"
}

# Count the instructions of `curl --parallel -K FILE` and print them per request.
cg_measure() { # FILE OUT N WHAT
  callgrind_control -i on $VP >/dev/null
  curl --parallel --parallel-max 16 -K $1
  sleep 1
  callgrind_control -d $VP >/dev/null
  callgrind_control -i off $VP >/dev/null
  kill $VP; wait $VP 2>/dev/null
  tot=$(callgrind_annotate $2.1 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}')
  echo "instructions: $tot per $4: $((tot / $3))"
}
