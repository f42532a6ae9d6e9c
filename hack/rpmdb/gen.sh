#!/usr/bin/env bash
# Regenerates the per-distribution rpm package databases under
# internal/imagescan/testdata/rpmdb/ with the real rpm tool: for each
# distribution, a minimal spec file per source package names real
# packages of that distribution (name, epoch, version, release with the
# distribution's dist tag, arch, vendor), rpmbuild builds them empty
# (no files), and rpm installs them with --justdb into the backend the
# distribution's own rpm uses (sqlite or ndb).
#
# Needs rpm and rpmbuild (Debian: apt-get install rpm; 4.18 writes
# sqlite and ndb, not Berkeley DB). Not run by CI: the databases are
# committed, and regeneration is not byte-for-byte deterministic
# (install times, header order), so no test compares checksums.
#
#   bash hack/rpmdb/gen.sh            # all
#   bash hack/rpmdb/gen.sh fedora-40  # one
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$here/../.." && pwd)/internal/imagescan/testdata/rpmdb
command -v rpmbuild >/dev/null || { echo "gen.sh: rpmbuild not found (apt-get install rpm)" >&2; exit 2; }

work=$(mktemp -d /tmp/rpmdb-gen.XXXXXX)
trap 'rm -rf "$work"' EXIT

# build DISTRO BACKEND DBFILE VENDOR DISTRIBUTION < package lines
#
# A package line is "name source epoch version release arch license
# [vendor]": packages of one source share its epoch, version and
# release (rpmbuild makes them subpackages, so SOURCERPM names the
# source as the distribution's own packages do); epoch "-" is none;
# arch x86_64 or noarch; vendor overrides the distribution's (openSUSE
# Leap ships SUSE's packages; "_" stands for a space). Fields are separated by tabs or spaces;
# license is one word.
build() {
	local distro=$1 backend=$2 dbfile=$3 vendor=$4 distribution=$5
	local top=$work/$distro
	mkdir -p "$top/SPECS" "$top/db"
	local target=$backend
	if [[ $backend == bdb ]]; then
		# rpm 4.18 reads Berkeley DB (bdb_ro) but cannot write it: rpm
		# installs into sqlite, and Berkeley DB's own db_load writes the
		# headers rpm stored into a hash database laid out as rpm's bdb
		# backend does (key: the header instance, 4 bytes little-endian;
		# key 0: the last instance), which rpm then reads back.
		command -v db5.3_load >/dev/null && command -v sqlite3 >/dev/null ||
			{ echo "gen.sh: $distro needs db5.3_load and sqlite3 (apt-get install db5.3-util sqlite3)" >&2; exit 2; }
		backend=sqlite
	fi
	# Debian's rpm 4.18 is built without ndb: it warns "invalid
	# %_db_backend" and falls back to a dummy database. Say so and skip
	# rather than write nothing.
	if rpm --dbpath "$top/db" --define "_db_backend $backend" --initdb 2>&1 | grep -q 'invalid %_db_backend'; then
		echo "$distro: skipped: this rpm ($(rpm --version)) cannot write the $backend backend" >&2
		cat >/dev/null
		return 0
	fi
	local lines top_db
	lines=$(grep -v '^\s*\(#\|$\)')
	local src
	for src in $(awk '{print $2}' <<<"$lines" | sort -u); do
		local spec=$top/SPECS/$src.spec
		# The source's fields from its first package.
		local epoch version release arch license pvendor
		read -r _ _ epoch version release arch license pvendor < <(awk -v s="$src" '$2 == s' <<<"$lines" | head -1)
		pvendor=${pvendor//_/ }
		{
			echo "Name: $src"
			[[ $epoch != - ]] && echo "Epoch: $epoch"
			echo "Version: $version"
			echo "Release: $release"
			echo "Summary: $src (package database fixture)"
			echo "License: $license"
			echo "Vendor: ${pvendor:-$vendor}"
			echo "Packager: ${pvendor:-$vendor}"
			echo "Distribution: $distribution"
			echo "BuildArch: $arch"
			echo "%description"
			echo "The $src source package's metadata, without files."
			local name
			for name in $(awk -v s="$src" '$2 == s {print $1}' <<<"$lines"); do
				if [[ $name == "$src" ]]; then
					echo "%files"
				else
					echo "%package -n $name"
					echo "Summary: $name (package database fixture)"
					echo "%description -n $name"
					echo "The $name package's metadata, without files."
					echo "%files -n $name"
				fi
			done
		} >"$spec"
		# The dist tag is in each release already; %dist is unset so that
		# nothing is appended.
		rpmbuild --quiet --define "_topdir $top" --define "dist %{nil}" \
			--define "_build_id_links none" --define "_binary_payload w9.gzdio" \
			-bb "$spec" >/dev/null
	done
	find "$top/RPMS" -name '*.rpm' -print0 | sort -z | xargs -0 \
		rpm --dbpath "$top/db" --define "_db_backend $backend" -i --justdb --nodeps \
		--noscripts --notriggers --ignorearch --ignoreos --nosignature --nodigest \
		2> >(grep -v 'use Alien instead\|assuming you know what' >&2)
	if [[ $target == bdb ]]; then
		local le='s/^\(..\)\(..\)\(..\)\(..\)$/\4\3\2\1/'
		mkdir -p "$top/bdb"
		{
			printf 'VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n'
			printf ' 00000000\n %s\n' "$(printf '%08x' "$(sqlite3 "$top/db/rpmdb.sqlite" 'select max(hnum) from Packages')" | sed "$le")"
			sqlite3 -separator ' ' "$top/db/rpmdb.sqlite" 'select hnum, lower(hex(blob)) from Packages order by hnum' |
				while read -r hnum blob; do
					printf ' %s\n %s\n' "$(printf '%08x' "$hnum" | sed "$le")" "$blob"
				done
			printf 'DATA=END\n'
		} | db5.3_load "$top/bdb/Packages"
		backend=bdb_ro
		top_db=$top/bdb
	else
		top_db=$top/db
	fi
	mkdir -p "$out/$distro"
	cp "$top_db/$dbfile" "$out/$distro/$dbfile"
	# bdb_ro warns of the index files db_load did not write: rpm -qa
	# reads Packages alone.
	rpm --dbpath "$top_db" --define "_db_backend $backend" -qa \
		--qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{VENDOR}\n' 2> >(grep -v 'warning: could not open' >&2) |
		sort >"$out/$distro/packages.tsv"
	echo "$distro: $(wc -l <"$out/$distro/packages.tsv") packages, $backend, $(stat -c %s "$out/$distro/$dbfile") bytes"
}

sel=("$@")
on() { [[ ${#sel[@]} -eq 0 ]] && return 0; local s; for s in "${sel[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

# Fedora 40 (rpm 4.19, sqlite since Fedora 33: fedoraproject.org/wiki/
# Changes/Sqlite_Rpmdb; the database moved to /usr/lib/sysimage/rpm in
# Fedora 36). Versions of the Fedora 40 GA
# compose.
on fedora-40 && build fedora-40 sqlite rpmdb.sqlite "Fedora Project" "Fedora Project" <<'PKGS'
glibc                 glibc        -  2.39      2.fc40   x86_64  LGPL-2.1-or-later
glibc-common          glibc        -  2.39      2.fc40   x86_64  LGPL-2.1-or-later
glibc-minimal-langpack glibc       -  2.39      2.fc40   x86_64  LGPL-2.1-or-later
openssl               openssl      1  3.2.1     2.fc40   x86_64  Apache-2.0
openssl-libs          openssl      1  3.2.1     2.fc40   x86_64  Apache-2.0
bash                  bash         -  5.2.26    3.fc40   x86_64  GPL-3.0-or-later
coreutils             coreutils    -  9.4       6.fc40   x86_64  GPL-3.0-or-later
coreutils-common      coreutils    -  9.4       6.fc40   x86_64  GPL-3.0-or-later
zlib-ng-compat        zlib-ng      -  2.1.6     2.fc40   x86_64  Zlib
curl                  curl         -  8.6.0     7.fc40   x86_64  curl
libcurl               curl         -  8.6.0     7.fc40   x86_64  curl
tzdata                tzdata       -  2024a     5.fc40   noarch  LicenseRef-Fedora-Public-Domain
fedora-release-common fedora-release - 40       38       noarch  MIT
PKGS

# Amazon Linux 2023 (rpm 4.16, sqlite as in the Fedora 34-36 it derives
# from; not checked against an AL2023 image, which cannot be downloaded
# here). Versions of the 2023.0.20230315 release.
on amzn-2023 && build amzn-2023 sqlite rpmdb.sqlite "Amazon Linux" "Amazon Linux" <<'PKGS'
glibc                 glibc        -  2.34      52.amzn2023.0.2  x86_64  LGPLv2+
glibc-common          glibc        -  2.34      52.amzn2023.0.2  x86_64  LGPLv2+
glibc-minimal-langpack glibc       -  2.34      52.amzn2023.0.2  x86_64  LGPLv2+
openssl-libs          openssl      1  3.0.8     1.amzn2023.0.1   x86_64  ASL-2.0
bash                  bash         -  5.2.15    1.amzn2023.0.2   x86_64  GPLv3+
coreutils-single      coreutils    -  8.32      30.amzn2023.0.3  x86_64  GPLv3+
zlib                  zlib         -  1.2.11    33.amzn2023.0.4  x86_64  zlib
curl-minimal          curl         -  8.0.1     1.amzn2023       x86_64  MIT
libcurl-minimal       curl         -  8.0.1     1.amzn2023       x86_64  MIT
tzdata                tzdata       -  2023c     1.amzn2023.0.1   noarch  Public-Domain
system-release        system-release - 2023.0.20230315 0.amzn2023 noarch GPLv2
rpm                   rpm          -  4.16.1.3  12.amzn2023.0.4  x86_64  GPLv2+
rpm-libs              rpm          -  4.16.1.3  12.amzn2023.0.4  x86_64  GPLv2+
PKGS

# Amazon Linux 2 (rpm 4.11, Berkeley DB: written as described in
# build). Versions of the 2.0.20231218 release.
on amzn-2 && build amzn-2 bdb Packages "Amazon Linux" "Amazon Linux" <<'PKGS'
glibc                 glibc        -  2.26      64.amzn2.0.1     x86_64  LGPLv2+
glibc-common          glibc        -  2.26      64.amzn2.0.1     x86_64  LGPLv2+
glibc-minimal-langpack glibc       -  2.26      64.amzn2.0.1     x86_64  LGPLv2+
openssl-libs          openssl      1  1.0.2k    24.amzn2.0.7     x86_64  OpenSSL
bash                  bash         -  4.2.46    34.amzn2         x86_64  GPLv3+
coreutils             coreutils    -  8.22      24.amzn2         x86_64  GPLv3+
zlib                  zlib         -  1.2.7     19.amzn2.0.2     x86_64  zlib
curl                  curl         -  8.3.0     1.amzn2.0.4      x86_64  MIT
libcurl               curl         -  8.3.0     1.amzn2.0.4      x86_64  MIT
system-release        system-release 1 2        15.amzn2         x86_64  GPLv2
rpm                   rpm          -  4.11.3    48.amzn2.0.3     x86_64  GPLv2+
rpm-libs              rpm          -  4.11.3    48.amzn2.0.3     x86_64  GPLv2+
tzdata                tzdata       -  2023c     1.amzn2.0.1      noarch  Public-Domain
PKGS

# Photon OS 5.0 (rpm 4.18; sqlite assumed, rpm's upstream default since
# 4.16; not checked against an image here). Versions of the 5.0 GA
# release.
on photon-5.0 && build photon-5.0 sqlite rpmdb.sqlite "VMware, Inc." "VMware Photon OS" <<'PKGS'
glibc                 glibc        -  2.36      4.ph5    x86_64  LGPLv2+
openssl               openssl      -  3.0.8     1.ph5    x86_64  OpenSSL
bash                  bash         -  5.1.16    2.ph5    x86_64  GPLv3
toybox                toybox       -  0.8.9     1.ph5    x86_64  BSD
zlib                  zlib         -  1.2.13    2.ph5    x86_64  zlib
curl                  curl         -  8.1.2     1.ph5    x86_64  MIT
curl-libs             curl         -  8.1.2     1.ph5    x86_64  MIT
tdnf                  tdnf         -  3.5.2     1.ph5    x86_64  LGPLv2.1
rpm-libs              rpm          -  4.18.0    6.ph5    x86_64  GPLv2+
photon-release        photon-release - 5.0    2.ph5    noarch  Apache
ca-certificates       ca-certificates - 20230315 1.ph5  noarch  Custom
libgcc                gcc          -  12.2.0    1.ph5    x86_64  GPLv2+
PKGS

# Azure Linux 3.0 (rpm 4.18, sqlite as CBL-Mariner 2.0). Versions of
# the 3.0 GA release (3.0.20240727).
on azurelinux-3.0 && build azurelinux-3.0 sqlite rpmdb.sqlite "Microsoft Corporation" "Azure Linux" <<'PKGS'
glibc                 glibc        -  2.38      6.azl3   x86_64  LGPLv2+
openssl               openssl      -  3.3.0     1.azl3   x86_64  Apache-2.0
openssl-libs          openssl      -  3.3.0     1.azl3   x86_64  Apache-2.0
curl                  curl         -  8.8.0     1.azl3   x86_64  curl
libcurl               curl         -  8.8.0     1.azl3   x86_64  curl
bash                  bash         -  5.2.15    2.azl3   x86_64  GPLv3+
zlib                  zlib         -  1.3.1     1.azl3   x86_64  zlib
tdnf                  tdnf         -  3.5.6     1.azl3   x86_64  LGPLv2.1
rpm-libs              rpm          -  4.18.2    1.azl3   x86_64  GPLv2+
azurelinux-release    azurelinux-release - 3.0 16.azl3 noarch MIT
ca-certificates       ca-certificates - 3.0.0 4.azl3   noarch  MPLv2.0
libgcc                gcc          -  13.2.0    7.azl3   x86_64  GPLv3+
PKGS

# The el9 family (rpm 4.16, sqlite since RHEL 9, /var/lib/rpm/rpmdb.sqlite): the same packages
# under each distribution's vendor and release package; Oracle rebuilds
# some with ".0.1" before the dist tag.
el9() {
	local release_pkg=$1 release_evr=$2 openssl_release=$3
	cat <<PKGS
glibc                 glibc        -  2.34      100.el9  x86_64  LGPLv2+
glibc-common          glibc        -  2.34      100.el9  x86_64  LGPLv2+
glibc-minimal-langpack glibc       -  2.34      100.el9  x86_64  LGPLv2+
openssl-libs          openssl      1  3.0.7     $openssl_release x86_64 ASL-2.0
libuuid               util-linux   -  2.37.4    10.el9   x86_64  BSD
libblkid              util-linux   -  2.37.4    10.el9   x86_64  LGPLv2+
bash                  bash         -  5.1.8     9.el9    x86_64  GPLv3+
coreutils-single      coreutils    -  8.32      35.el9   x86_64  GPLv3+
zlib                  zlib         -  1.2.11    40.el9   x86_64  zlib
curl-minimal          curl         -  7.76.1    29.el9   x86_64  MIT
libcurl-minimal       curl         -  7.76.1    29.el9   x86_64  MIT
tzdata                tzdata       -  2024a     1.el9    noarch  Public-Domain
$release_pkg $release_pkg - $release_evr noarch GPLv2
PKGS
}
on rocky-9 && el9 rocky-release "9.4 1.7.el9" 24.el9 | build rocky-9 sqlite rpmdb.sqlite "Rocky Enterprise Software Foundation" "Rocky Linux"
on almalinux-9 && el9 almalinux-release "9.4 1.el9" 24.el9 | build almalinux-9 sqlite rpmdb.sqlite "AlmaLinux" "AlmaLinux"
on ubi-9 && el9 redhat-release "9.4 0.5.el9" 24.el9 | build ubi-9 sqlite rpmdb.sqlite "Red Hat, Inc." "Red Hat"
on centos-stream-9 && el9 centos-stream-release "9.0 24.el9" 24.el9 | build centos-stream-9 sqlite rpmdb.sqlite "CentOS" "CentOS"
on oraclelinux-9 && el9 oraclelinux-release "9.4 1.0.7.el9" 24.0.1.el9 | build oraclelinux-9 sqlite rpmdb.sqlite "Oracle America" "Oracle Linux"

# openSUSE Leap 15.5 (rpm 4.14 with the ndb backend; the database is in
# /usr/lib/sysimage/rpm). Most packages are SUSE's (release 150xxx),
# Leap's own carry lp155.
on opensuse-leap-15.5 && build opensuse-leap-15.5 ndb Packages.db "openSUSE" "openSUSE Leap 15.5" <<'PKGS'
glibc                 glibc        -  2.31      150300.46.1         x86_64  LGPL-2.1-or-later  SUSE_LLC_<https://www.suse.com/>
libopenssl3           openssl-3    -  3.0.8     150500.5.8.1        x86_64  Apache-2.0         SUSE_LLC_<https://www.suse.com/>
bash                  bash         -  4.4       150400.25.22        x86_64  GPL-3.0-or-later   SUSE_LLC_<https://www.suse.com/>
libz1                 zlib         -  1.2.13    150500.4.3.1        x86_64  Zlib               SUSE_LLC_<https://www.suse.com/>
curl                  curl         -  8.0.1     150400.5.26.1       x86_64  curl               SUSE_LLC_<https://www.suse.com/>
libcurl4              curl         -  8.0.1     150400.5.26.1       x86_64  curl               SUSE_LLC_<https://www.suse.com/>
rpm-ndb               rpm-ndb      -  4.14.3    150400.59.3.1       x86_64  GPL-2.0-or-later   SUSE_LLC_<https://www.suse.com/>
zypper                zypper       -  1.14.61   150400.3.30.1       x86_64  GPL-2.0-or-later   SUSE_LLC_<https://www.suse.com/>
timezone              timezone     -  2023c     150000.75.23.1      x86_64  BSD-3-Clause       SUSE_LLC_<https://www.suse.com/>
ca-certificates-mozilla ca-certificates-mozilla - 2.62 150200.30.1  noarch  MPL-2.0            SUSE_LLC_<https://www.suse.com/>
openSUSE-release      openSUSE-release - 15.5 lp155.286.1           x86_64  BSD-3-Clause       openSUSE
patterns-base-minimal_base patterns-base - 20200505 lp155.10.5     x86_64  MIT                openSUSE
PKGS
