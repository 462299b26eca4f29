#!/bin/bash
# CPU cost of binding a pod (what the scheduler asks for every pod) in the API server, as
# instructions counted by callgrind, with one pod watch open (the scheduler's). Creates N
# pending pods, then counts N `pods/binding` POSTs sent by curl (16 in parallel).
# usage: tools/callgrind-binds.sh target/release/rkube 1000 /tmp/cgb [--http2|--http1.1]
BIN=$1; N=$2; OUT=$3; PROTO=${4:---http2}
. "$(dirname "$0")/callgrind-lib.sh"
cg_start $BIN $OUT
pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p%d","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}'
for i in $(seq 1 $N); do echo "/api/v1/namespaces/cg/pods $(printf "$pod" $i)"; done | cg_requests $PROTO > $D/pods.cfg
curl --parallel --parallel-max 16 -K $D/pods.cfg
curl $C -sN "https://127.0.0.1:$PORT/api/v1/namespaces/cg/pods?watch=1&resourceVersion=0" > /dev/null &
W=$!
binding='{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p%d"},"target":{"apiVersion":"v1","kind":"Node","name":"node-%d"}}'
for i in $(seq 1 $N); do echo "/api/v1/namespaces/cg/pods/p$i/binding $(printf "$binding" $i $((i % 100)))"; done | cg_requests $PROTO > $D/binds.cfg
cg_measure $D/binds.cfg $OUT $N bind
kill $W 2>/dev/null
rm -rf $D
