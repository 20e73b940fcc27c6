#!/bin/bash
# Runs inside a Debian 12 container (tools/build-redis-packages.sh). Leaves the packages in
# /packages/deb and /packages/rpm.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Debian 13's sources from the same mirror as the image's own (bookworm) sources.
awk '$1 == "deb" { $1 = "deb-src"; for (i = 2; i <= NF; i++) if ($i == "bookworm") $i = "trixie"; print; exit }' \
  /etc/apt/sources.list >/etc/apt/sources.list.d/trixie-src.list
apt-get update -qq
apt-get install -y -qq --no-install-recommends dpkg-dev fakeroot apt-utils gnupg rpm createrepo-c >/dev/null

work=/var/tmp/redis-build
mkdir -p "$work" && cd "$work"
# The index's newest revision first; a mirror that lacks its files (the index can be newer than the
# pool) gets the earlier +deb13uN revisions from the pool. dpkg-source checks every file's checksum.
version=$(apt-cache showsrc redis | awk '/^Version:/ { print $2; exit }')
dsc=
if apt-get source -qq --download-only "redis=$version" >/dev/null 2>&1; then
  dsc=$(ls ./redis_*.dsc)
else
  rm -f ./redis_*
  pool=$(awk '$1 == "deb-src" { print $2; exit }' /etc/apt/sources.list.d/trixie-src.list)/pool/main/r/redis
  upstream=${version#*:}
  revision=${upstream#*-}
  upstream=${upstream%%-*}
  n=$(sed -nE 's/.*\+deb13u([0-9]+)$/\1/p' <<<"$revision")
  while [ -n "$n" ] && [ "$n" -ge 1 ]; do
    n=$((n - 1))
    suffix=
    if [ "$n" -gt 0 ]; then suffix=+deb13u$n; fi
    candidate="redis_${upstream}-${revision%+deb13u*}${suffix}.dsc"
    if /usr/lib/apt/apt-helper download-file "$pool/$candidate" "$candidate" >/dev/null 2>&1; then
      for f in $(awk '/^Files:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$candidate"); do
        /usr/lib/apt/apt-helper download-file "$pool/$f" "$f" >/dev/null 2>&1 \
          || { echo "cannot download $pool/$f (named by $candidate)" >&2; exit 1; }
      done
      dsc=$candidate
      break
    fi
  done
  [ -n "$dsc" ] || { echo "no source of redis $version (or an earlier +deb13u revision) on the mirror" >&2; exit 1; }
  echo "the mirror lacks redis $version; using $dsc"
fi
dpkg-source -x --require-strong-checksums "$dsc" src >/dev/null
cd src
apt-get build-dep -y -qq -P nocheck . >/dev/null

upstream=$(dpkg-parsechangelog -S Version | sed -E 's/^[0-9]+://; s/-.*//')
{
  printf 'redis (6:%s-1rl1~bookworm1) bookworm; urgency=medium\n\n' "$upstream"
  printf '  * Test rebuild of Debian 13'"'"'s package for Debian 12 with Redis'"'"'s version scheme\n'
  printf '    (redis-provisioning test tooling; not a Redis release).\n\n'
  printf ' -- redis-provisioning tests <tests@redis-provisioning.invalid>  %s\n\n' "$(date -R)"
  cat debian/changelog
} >debian/changelog.new
mv debian/changelog.new debian/changelog
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" DEB_BUILD_PROFILES=nocheck dpkg-buildpackage -b -us -uc >../build.log 2>&1 \
  || { tail -n 40 ../build.log; exit 1; }
cd ..
mkdir -p /packages/deb /packages/rpm
cp redis_*_all.deb redis-server_*.deb redis-tools_[0-9]*.deb redis-sentinel_*.deb /packages/deb/

# The RPM: the same binaries in the layout of Redis's RPMs.
mkdir stage
for deb in /packages/deb/*.deb; do dpkg-deb -x "$deb" stage; done
rpmbuild -bb --quiet /tools/redis-packages/redis.spec --define "_topdir $work/rpmbuild" --define "stage $work/stage" \
  --define "tools /tools" --define "redis_version $upstream" >/dev/null
cp rpmbuild/RPMS/*/*.rpm /packages/rpm/

cd /
rm -rf "$work" /var/lib/apt/lists/* /etc/apt/sources.list.d/trixie-src.list
ls -l /packages/deb /packages/rpm
