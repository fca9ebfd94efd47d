#!/bin/bash
# The soak (tests/soak/soak.sh) for 60 s: http workload, 10 SSE clients,
# RSS slope, no losses, exact at the end; no time-travel history, which
# would fill for 300 s. `make soak` runs 10 minutes with it.
exec "$(dirname "$0")/../soak/soak.sh" 60 0
