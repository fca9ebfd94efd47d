#!/bin/bash
# The soak (tests/soak/soak.sh) for 90 s: http workload, 10 SSE clients,
# RSS slope over the 60 s after warm-up, no losses, exact at the end; no
# time-travel history, which would fill for 300 s. `make soak` runs 10
# minutes with it. (Over a 30 s window one heap extension of glibc's
# 128 KiB top pad alone reads as 270 kB/min, past the bound.)
exec "$(dirname "$0")/../soak/soak.sh" 90 0
