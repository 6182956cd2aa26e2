#!/bin/sh
# build-deb.sh ARCH OUTDIR builds dist/doorhub_VERSION_ARCH.deb for one
# Debian architecture (amd64, arm64 or armhf): it cross-builds the
# binaries, generates the man pages, the copyright file and the changelog
# into a stage directory, writes the nfpm configuration with their entries
# and runs the pinned nfpm (`go tool nfpm`). `make deb` calls it once per
# architecture. The version comes from packaging/version.sh.
#
# Environment: GO (default go), DEB_MAINTAINER.
set -eu

arch=${1:?usage: build-deb.sh amd64|arm64|armhf OUTDIR}
out=${2:?usage: build-deb.sh ARCH OUTDIR}
GO=${GO:-go}
# The man pages and nfpm run on this machine: only the builds cross.
unset GOOS GOARCH GOARM
cd "$(dirname "$0")/.."

case $arch in
amd64) goarch=amd64 goarm= nfpmarch=amd64 ;;
arm64) goarch=arm64 goarm= nfpmarch=arm64 ;;
# GOARM=6 runs on every Raspberry Pi (ARMv6 and ARMv7); nfpm's "arm6" is
# Debian's armhf (plain "arm" would give an invalid Architecture: arm).
armhf) goarch=arm goarm=6 nfpmarch=arm6 ;;
*)
	echo "build-deb.sh: unknown architecture $arch (amd64, arm64, armhf)" >&2
	exit 2
	;;
esac

version=$(packaging/version.sh)
release=1
# Reproducible: file dates, man page dates and the changelog's date are the
# commit's.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
DEB_MAINTAINER=${DEB_MAINTAINER:-doorhub maintainers <maintainers@doorhub.example>}

stage=$out/stage/$arch
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/man"

ldflags="-s -w -X github.com/doorhub/doorhub/hub.Version=$version"
build() {
	echo "go build $1 ($arch)"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		$GO build -trimpath -ldflags "$ldflags" -o "$stage/bin/$1" "./cmd/$1"
}

# The daemon's page is hand-written; the CLI's pages come from its cobra
# command tree (cmd/doorhub/man_test.go), built for this machine.
build doorhubd
sed "s/@VERSION@/$version/" packaging/man/doorhubd.8 | gzip -9n >"$stage/man/doorhubd.8.gz"
cli=
if [ -f cmd/doorhub/main.go ]; then
	cli=doorhub
	build doorhub
	if [ -f cmd/doorhub/man_test.go ]; then
		$GO test -count=1 -ldflags "-X github.com/doorhub/doorhub/hub.Version=$version" \
			-run '^TestManPages$' ./cmd/doorhub -args -man-dir "$PWD/$stage/man1" >/dev/null
		for f in "$stage"/man1/*.1; do
			gzip -9n <"$f" >"$stage/man/$(basename "$f").gz"
		done
		rm -rf "$stage/man1"
	fi
fi

sh packaging/copyright.sh "$stage"/bin/* >"$stage/copyright"

# The changelog's entries are packaging/changelog's; a build that is not
# its top version (a development build) gets an entry of its own on top.
{
	top=$(sed -n '1s/^doorhub (\(.*\)).*/\1/p' packaging/changelog)
	if [ "$top" != "$version-$release" ]; then
		printf 'doorhub (%s-%s) UNRELEASED; urgency=medium\n\n' "$version" "$release"
		printf '  * Development build of commit %s.\n\n' "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
		printf ' -- %s  %s\n\n' "$DEB_MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	fi
	sed "s/@MAINTAINER@/$DEB_MAINTAINER/" packaging/changelog
} | gzip -9n >"$stage/changelog.Debian.gz"

# nfpm's configuration: packaging/nfpm.yaml plus what was staged.
conf=$stage/nfpm.yaml
cp packaging/nfpm.yaml "$conf"
entry() { # src dst mode
	printf '  - src: %s\n    dst: %s\n    file_info:\n      mode: %s\n' "$1" "$2" "$3" >>"$conf"
}
entry "$stage/bin/doorhubd" /usr/sbin/doorhubd 0755
[ -z "$cli" ] || entry "$stage/bin/doorhub" /usr/bin/doorhub 0755
for f in "$stage"/man/*.gz; do
	case $f in
	*.8.gz) entry "$f" "/usr/share/man/man8/$(basename "$f")" 0644 ;;
	*) entry "$f" "/usr/share/man/man1/$(basename "$f")" 0644 ;;
	esac
done

mkdir -p "$out"
deb=$out/doorhub_${version}-${release}_${arch}.deb
DEB_NFPM_ARCH=$nfpmarch DEB_UPSTREAM_VERSION=$version DEB_STAGE=$stage DEB_MAINTAINER=$DEB_MAINTAINER \
	$GO tool nfpm package --config "$conf" --packager deb --target "$deb" >/dev/null
echo "$deb"
