# bash completion for valk-trace. The commands come from `valk-trace --help`
# and each command's options from `valk-trace COMMAND --help`, so new ones
# complete without an edit here; a <pid> completes to the pids of running
# valk processes (`valk-trace ps --pids`), a FILE or PATH to file names.
_valk_trace()
{
	local vt=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD - 1]} help opt arg
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$("$vt" --help 2>/dev/null |
			awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }') --help --version" -- "$cur"))
		return
	fi
	help=$(ARGP_HELP_FMT=rmargin=10000 "$vt" "${COMP_WORDS[1]}" --help 2>/dev/null) || return
	# --opt=VALUE is split at '=' by readline
	if [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 3 ]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ "$prev" == -* ]]; then
		opt=$prev
	fi
	if [ -n "${opt-}" ]; then
		# the option's argument name, as --help shows it: "--mode=MODE"
		arg=$(printf '%s\n' "$help" | sed -n "s/^ *\(-., \)\{0,1\}\(--[a-z-]*\)=\([A-Z:]*\).*/\1 \2 \3/p" |
			awk -v o="$opt" '{ if ($NF != "" && (o == $(NF - 1) || o "," == $1)) { print $NF; exit } }')
		case $arg in
		MODE) COMPREPLY=($(compgen -W "hybrid events sample" -- "$cur")); return ;;
		FILE | PATH) COMPREPLY=($(compgen -f -- "$cur")); return ;;
		?*) return ;;	# a number or an address: nothing to offer
		esac
	fi
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$(printf '%s\n' "$help" |
			grep -o -- '^ *\(-., \)\{0,1\}--[a-z-]*' | grep -o -- '--[a-z-]*')" -- "$cur"))
	elif printf '%s\n' "$help" | head -n 1 | grep -q '<pid>'; then
		COMPREPLY=($(compgen -W "$("$vt" ps --pids 2>/dev/null)" -- "$cur"))
	elif printf '%s\n' "$help" | head -n 1 | grep -q '<binary>'; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _valk_trace valk-trace
