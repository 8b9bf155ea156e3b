#!/usr/bin/env bash
# waiting.sh - blocking acquisition (SPEC section 3 "Waiting"): placeholder
# until the suite lands.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2
check "status answers" n1 bash -c "sed -n 's/^node=//p' $N1/.lockfs/status"
finish
