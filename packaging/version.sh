#!/bin/sh
# version.sh prints the upstream version of a build, Debian-sortable:
#   a commit tagged vX.Y.Z              X.Y.Z
#   N commits after tag vX.Y.Z          X.Y.Z+gitN.HASH     (after X.Y.Z)
#   no tag yet                          0.0.0~gitYYYYMMDDhhmmss.HASH
# Untagged builds order by commit time, so an upgrade between two of them
# goes forward.
set -eu
cd "$(dirname "$0")/.."
if d=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
	tag=${d%-*-g*}
	rest=${d#"$tag"-}
	n=${rest%%-g*}
	hash=${rest#*-g}
	if [ "$n" = 0 ]; then
		echo "${tag#v}"
	else
		echo "${tag#v}+git$n.$hash"
	fi
elif hash=$(git rev-parse --short=7 HEAD 2>/dev/null); then
	echo "0.0.0~git$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd).$hash"
else
	echo "0.0.0~dev"
fi
