#!/bin/sh
# Prints the package version: from the nearest git tag vX.Y.Z (exactly
# X.Y.Z on the tag, X.Y.Z+gitN.gHASH N commits after it), else the VERSION
# file. Debian orders X.Y.Z < X.Y.Z+git1... < X.Y.(Z+1).
set -e
cd "$(dirname "$0")/.."
if d=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
	d=${d#v}
	case $d in
	*-*-g*)
		base=${d%-*-g*}
		rest=${d#"$base"-}
		echo "$base+git${rest%-g*}.g${rest##*-g}"
		;;
	*) echo "$d" ;;
	esac
else
	tr -d ' \n' <VERSION
	echo
fi
