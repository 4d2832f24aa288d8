#!/bin/sh
# Installs the Debian packages crosswalk needs to build and test (scripts/deps.d/*.txt), only those
# missing: idempotent, and silent when there is nothing to do.
set -e
here=$(cd "$(dirname "$0")" && pwd)
want=$(cat "$here"/deps.d/*.txt | sed 's/#.*//' | tr -s ' \n' '\n' | grep -v '^$' | sort -u)
missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "crosswalk: missing Debian packages:$missing (run scripts/deps.sh as root)" >&2
	exit 1
fi
echo "crosswalk: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# servers whose packages start them (squid, nginx for the Squid study): the study runs its own copies
for s in squid nginx; do
	case " $missing " in *" $s "*|*" $s-"*) service "$s" stop >/dev/null 2>&1 || true ;; esac
done
