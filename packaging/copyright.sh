#!/bin/sh
# copyright.sh BINARY... writes the package's debian/copyright (DEP-5) to
# stdout: doorhub's own paragraph, then one paragraph per Go module linked
# into the binaries (read with `go version -m`, so the list always matches
# what ships), with the copyright lines and the license of the module's
# own LICENSE file. A module whose license it does not recognise fails the
# build: add its kind here rather than ship an incomplete file.
set -eu

[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
moddirs=$(mktemp)
trap 'rm -f "$moddirs"' EXIT
go list -m -f '{{.Path}} {{.Dir}}' all >"$moddirs"

cat <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: doorhub
Comment: doorhubd and doorhub are statically linked Go programs. Besides
 doorhub's own code they contain the Go standard library and runtime and
 the Go modules listed below by module path, each under its own license.

Files: *
Copyright: 2026 the doorhub authors
License: doorhub
 doorhub's own code. The project has not published a license yet: ask its
 maintainers before you copy or redistribute it.

Files: go/std
Copyright: 2009 The Go Authors
License: BSD-3-clause
Comment: The Go standard library and runtime, compiled into every binary.
EOF

used=" BSD-3-clause "
for mod in $(for b in "$@"; do go version -m "$b"; done | awk '$1 == "dep" { print $2 }' | sort -u); do
	dir=$(awk -v m="$mod" '$1 == m { print $2 }' "$moddirs")
	lic=
	for f in LICENSE LICENSE.txt LICENSE.md COPYING; do
		[ -f "$dir/$f" ] && { lic="$dir/$f"; break; }
	done
	[ -n "$lic" ] || { echo "copyright.sh: $mod: no LICENSE file in '$dir'" >&2; exit 1; }

	kinds=
	if grep -q 'Eclipse Public License' "$lic"; then
		# paho offers EPL-2.0 or the Eclipse Distribution License 1.0,
		# which is the BSD 3-clause license.
		kinds="EPL-2.0 or BSD-3-clause"
		used="$used EPL-2.0 "
	else
		if grep -q 'Apache License' "$lic" && grep -q 'Version 2.0' "$lic"; then
			kinds="Apache-2.0"
		fi
		if grep -q 'Permission is hereby granted, free of charge' "$lic"; then
			kinds="${kinds:+$kinds and }Expat"
		fi
		if grep -q 'Redistribution and use' "$lic"; then
			if grep -qE 'Neither the name|names of its contributors|name of the copyright holder' "$lic"; then
				kinds="${kinds:+$kinds and }BSD-3-clause"
			else
				kinds="${kinds:+$kinds and }BSD-2-clause"
			fi
		fi
	fi
	[ -n "$kinds" ] || { echo "copyright.sh: $mod: license of $lic not recognised" >&2; exit 1; }
	for k in Apache-2.0 Expat BSD-2-clause; do
		case " $kinds " in *" $k "*) used="$used $k " ;; esac
	done

	# The module's authors, then every copyright line of its LICENSE
	# (Apache-2.0 files name none).
	{
		echo
		echo "Files: go/$mod"
		echo "Copyright: the authors of $mod"
		grep -E '^[[:space:]]*Copyright ([(]c[)] |©)?[0-9]' "$lic" | grep -v '\[yyyy\]' |
			sed -E 's/^[[:space:]]*Copyright ([(]c[)] |©)?//; s/[[:space:]]*All rights reserved\.?//; s/[[:space:]]+$//; s/^/ /' |
			sort -u
		echo "License: $kinds"
	}
done

case "$used" in *" Apache-2.0 "*) cat <<'EOF'

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may
 not use this file except in compliance with the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".
EOF
esac
case "$used" in *" Expat "*) cat <<'EOF'

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software and associated documentation files (the
 "Software"), to deal in the Software without restriction, including
 without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit
 persons to whom the Software is furnished to do so, subject to the
 following conditions:
 .
 The above copyright notice and this permission notice shall be included
 in all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
 OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
 NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
 USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
esac
case "$used" in *" BSD-2-clause "*) cat <<'EOF'

License: BSD-2-clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are
 met:
 .
 1. Redistributions of source code must retain the above copyright
 notice, this list of conditions and the following disclaimer.
 .
 2. Redistributions in binary form must reproduce the above copyright
 notice, this list of conditions and the following disclaimer in the
 documentation and/or other materials provided with the distribution.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS
 IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO,
 THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
 PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
 CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
 EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
 PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR
 PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF
 LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
 NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
EOF
esac
cat <<'EOF'

License: BSD-3-clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are
 met:
 .
 1. Redistributions of source code must retain the above copyright
 notice, this list of conditions and the following disclaimer.
 .
 2. Redistributions in binary form must reproduce the above copyright
 notice, this list of conditions and the following disclaimer in the
 documentation and/or other materials provided with the distribution.
 .
 3. Neither the name of the copyright holder nor the names of its
 contributors may be used to endorse or promote products derived from
 this software without specific prior written permission.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS
 IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO,
 THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
 PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
 CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
 EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
 PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR
 PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF
 LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
 NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
EOF
case "$used" in *" EPL-2.0 "*)
	printf '\nLicense: EPL-2.0\n'
	dir=$(awk '$1 == "github.com/eclipse/paho.mqtt.golang" { print $2 }' "$moddirs")
	sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /' "$dir/epl-v20"
	;;
esac
