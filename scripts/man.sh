#!/bin/sh
# Writes the man page valk-trace(8) to stdout, made from the binary's own
# help: `valk-trace --help` for the commands and exit codes, `valk-trace
# COMMAND --help` for each command's options. The page cannot disagree with
# --help, and a new command or option appears in it without an edit here.
#   usage: scripts/man.sh BUILD/valk-trace > valk-trace.8
set -eu
vt=$1
version=$("$vt" --version | sed 's/^valk-trace //')
help=$("$vt" --help)
# one option per line: no wrapping
ARGP_HELP_FMT=rmargin=10000
export ARGP_HELP_FMT

# roff-escapes a line of text: backslashes, minus signs, a leading dot or quote
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^[.']/\\\\\&&/"; }

cat <<HEAD
.TH VALK\-TRACE 8 "" "valk-trace $version" "System Administration"
.SH NAME
valk\-trace \- an external memory tracer for the Valkyria runtime
.SH SYNOPSIS
.B valk\-trace
.I COMMAND
.RI [ OPTION ...]
.br
.B valk\-trace
.BR \-\-help " | " \-\-version
.SH DESCRIPTION
HEAD
printf '%s\n' "$help" | sed -n '2p' | esc
cat <<'TEXT'
It puts uprobes on an unmodified, running valk process, reads its present
state from its memory, and from then on keeps an exact picture of every
slab slot, connection, owner, arena and the GC heap, served as
Server\-Sent Events, JSON, Prometheus metrics and a live dashboard.
TEXT
echo '.SH COMMANDS'
# "  NAME ARGS   summary" lines between "Commands:" and the next blank line
printf '%s\n' "$help" | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' |
while read -r cmd; do
	"$vt" "$cmd" --help | awk -v cmd="$cmd" '
	function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); sub(/^[.'"'"']/, "\\\\&&", s); return s }
	NR == 1 { sub(/^Usage: /, ""); printf ".SS \"%s\"\n", esc($0); next }
	/^  +-/ {
		line = $0; sub(/^ +/, "", line)
		if (match(line, /  +/) == 0) next
		opt = substr(line, 1, RSTART - 1); doc = substr(line, RSTART + RLENGTH)
		if (opt ~ /--(help|usage|version)$/) next
		printf ".TP\n.B %s\n%s\n", esc(opt), esc(doc)
		next
	}
	/^Mandatory or optional/ { next }
	/^$/ { blank = 1; next }
	{ if (blank && started) print ".PP"; print esc($0); blank = 0; started = 1 }'
done
cat <<'OPTS'
.SH OPTIONS
Every command takes
.BR \-? ", " \-\-help
(its own options),
.B \-\-usage
and
.BR \-V ", " \-\-version .
OPTS
echo '.SH EXIT STATUS'
# "  N  text" lines after "Exit status:", continuation lines indented
printf '%s\n' "$help" | awk '
	function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
	/^Exit status:/ { on = 1; next }
	on && /^$/ { exit }
	on && /^  [0-9]/ { printf ".TP\n.B %s\n", $1; sub(/^  [0-9]+ +/, ""); print esc($0); next }
	on { sub(/^ +/, ""); print esc($0) }'
cat <<'TAIL'
.SH FILES
.TP
.I /proc/PID/maps, /proc/PID/mem
the target's mappings and memory (root, or CAP_SYS_PTRACE over it)
.TP
.I /sys/kernel/btf/vmlinux
kernel BTF for the CO\-RE BPF programs
.SH SEE ALSO
.BR bpftool (8),
.BR prometheus (1)
.PP
The manual: /usr/share/doc/valk\-trace/README.md
TAIL
