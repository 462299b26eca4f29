#!/bin/bash
# CPU cost of a ConfigMap create in the API server, as instructions counted by callgrind: a
# figure that does not depend on what else the machine is doing (timings on a shared 2-core
# machine do). Starts `rkube server` under valgrind, makes 50 warm-up creates, then counts N
# creates sent by curl (16 in parallel) and prints user-space instructions per create.
# usage: tools/callgrind-creates.sh target/release/rkube 1000 /tmp/cg [--http2|--http1.1]
# then: callgrind_annotate --inclusive=yes /tmp/cg.1
BIN=$1; N=$2; OUT=$3; PROTO=${4:---http2}
. "$(dirname "$0")/callgrind-lib.sh"
cg_start $BIN $OUT
configmaps() { # prefix count
  for i in $(seq 1 $2); do
    echo "/api/v1/namespaces/cg/configmaps {\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$1$i\"},\"data\":{\"k\":\"$(printf 'v%.0s' $(seq 1 64))\"}}"
  done
}
configmaps w 50 | cg_requests $PROTO > $D/warm.cfg
curl --parallel --parallel-max 16 -K $D/warm.cfg
configmaps c $N | cg_requests $PROTO > $D/load.cfg
cg_measure $D/load.cfg $OUT $N create
rm -rf $D
