#!/bin/bash
# CPU cost of a ConfigMap create in the API server, as instructions counted by callgrind: a
# figure that does not depend on what else the machine is doing (timings on a shared 2-core
# machine do). Starts `rkube server` under valgrind, makes 50 warm-up creates, then counts N
# creates sent by curl (16 in parallel) and prints user-space instructions per create.
# usage: tools/callgrind-creates.sh target/release/rkube 1000 /tmp/cg [--http2|--http1.1]
# then: callgrind_annotate --inclusive=yes /tmp/cg.1
BIN=$1; N=$2; OUT=$3; PROTO=${4:---http2}
D=$(mktemp -d); PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file=$OUT --instr-atstart=no $BIN server --data-dir $D --port $PORT --bind-address 127.0.0.1 --disable-controllers --disable-scheduler > $D/log 2>&1 &
VP=$!
for i in $(seq 1 600); do curl -sk https://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break; sleep 0.5; done
KC=$D/admin.kubeconfig
python3 - "$KC" "$D" <<'PY'
import sys,yaml,base64
kc=yaml.safe_load(open(sys.argv[1])); u=kc['users'][0]['user']; c=kc['clusters'][0]['cluster']
d=sys.argv[2]
open(d+'/ca.crt','wb').write(base64.b64decode(c['certificate-authority-data']))
open(d+'/c.crt','wb').write(base64.b64decode(u['client-certificate-data']))
open(d+'/c.key','wb').write(base64.b64decode(u['client-key-data']))
PY
C="--cacert $D/ca.crt --cert $D/c.crt --key $D/c.key"
Q="-s -o /dev/null"
curl $C $Q -X POST -H 'Content-Type: application/json' https://127.0.0.1:$PORT/api/v1/namespaces -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cg"}}'
gen() { # prefix count
python3 - "$1" "$2" "$D" "$PORT" "$PROTO" <<'PY'
import sys
prefix,n,d,port,proto=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[4],sys.argv[5].lstrip('-')
out=[]
for i in range(n):
    body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s%d"},"data":{"k":"%s"}}'%(prefix,i,"v"*64)
    out.append('url = "https://127.0.0.1:%s/api/v1/namespaces/cg/configmaps"\ndata = "%s"\nheader = "Content-Type: application/json"\noutput = /dev/null\nsilent\ncacert = %s/ca.crt\ncert = %s/c.crt\nkey = %s/c.key\n%s\n'%(port,body.replace('"','\\"'),d,d,d,proto))
print('next\n'.join(out))
PY
}
gen w 50 > $D/warm.cfg
curl --parallel --parallel-max 16 -K $D/warm.cfg
gen c $N > $D/load.cfg
callgrind_control -i on $VP >/dev/null
curl --parallel --parallel-max 16 -K $D/load.cfg
sleep 1
callgrind_control -d $VP >/dev/null
callgrind_control -i off $VP >/dev/null
n=$(curl -s $C https://127.0.0.1:$PORT/api/v1/namespaces/cg/configmaps | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["items"]))')
kill $VP; wait $VP 2>/dev/null
echo "configmaps: $n"
f=$OUT.1
tot=$(callgrind_annotate $f 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}')
echo "instructions: $tot per create: $((tot / N))"
rm -rf $D
