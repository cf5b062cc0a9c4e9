#!/usr/bin/env bash
# Vendors Chart.js for report.html from Debian's libjs-chart.js package: the
# minified UMD build and the package's copyright file (Chart.js is under the
# Expat/MIT license) go to reports/assets/, where go:embed picks them up. The
# report inlines them, so it opens with no network.
#
# Refresh: run this script (apt lists must be current: apt-get update), check
# the version it prints, rebuild, and look at a report.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=libjs-chart.js
dest=reports/assets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
deb=$(ls "$tmp"/"$pkg"_*.deb)
dpkg-deb -x "$deb" "$tmp/root"

# Debian has shipped the browser build under usr/share/javascript; look in
# usr/share/nodejs too, in case a later package moves it.
src=
for dir in "$tmp/root/usr/share/javascript/chart.js" "$tmp/root/usr/share/nodejs/chart.js/dist"; do
	if [[ -f $dir/chart.min.js ]]; then
		src=$dir/chart.min.js
		break
	fi
done
if [[ -z $src ]]; then
	echo "vendor-chartjs: no chart.min.js in $(basename "$deb")" >&2
	exit 1
fi

mkdir -p "$dest"
cp "$src" "$dest/chart.min.js"
cp "$tmp/root/usr/share/doc/$pkg/copyright" "$dest/chart.js.LICENSE"
version=$(dpkg-deb -f "$deb" Version)
echo "vendored $pkg $version: $(head -c 200 "$dest/chart.min.js" | grep -o 'Chart.js v[0-9.]*')" >&2
