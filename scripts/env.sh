# Sourced by the other scripts: puts Go on the PATH where the machine has it
# in its usual place.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
