#!/usr/bin/env bash
# Installs what zkchaos needs on a Debian machine, skipping what is present:
# ZooKeeper 3.8 from Debian (no service is started), a Java runtime, the
# logging jars Debian's ZooKeeper needs to write its logs, libfaketime for
# clock faults, and fuse3 (fusermount3) for disk faults. With --test, also
# what the tests need: Chromium, in which the report is opened.
set -euo pipefail

tests=false
if [[ ${1:-} == --test ]]; then
	tests=true
fi

missing=()
need() {
	if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$1")
	fi
}
need zookeeper
need liblog4j1.2-java
need libslf4j-java
need faketime
need libfaketime
need fuse3
# Any Java runtime will do; do not pull in another one when java works.
command -v java >/dev/null 2>&1 || need default-jre-headless
if $tests; then
	need chromium
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi
echo "zkchaos: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >&2
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
