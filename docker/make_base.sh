#!/usr/bin/env bash
# Makes the Debian base image localhost/debian-minbase:bookworm from Debian's packages,
# for machines that cannot pull images: `debootstrap --variant=minbase bookworm` from
# the mirror apt already uses, trimmed like debian:bookworm-slim (no apt lists, docs,
# man pages or translations), then `podman import`. The root filesystem is kept as a
# tar under target/containers/ and reused, so debootstrap runs once per checkout.
# Needs root, debootstrap and podman (docker/install_podman.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
image="${BASE_IMAGE_NAME:-localhost/debian-minbase:bookworm}"
cache="target/containers"
tarball="$cache/debian-bookworm-minbase.tar"

if [ ! -s "$tarball" ]; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    mirror="${mirror:-http://deb.debian.org/debian}"
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    echo "make_base: debootstrap --variant=minbase bookworm from $mirror" >&2
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
        { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    # What debian:bookworm-slim leaves out, also for packages installed later.
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/log/apt/*
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
fi

podman image exists "$image" || podman import --quiet "$tarball" "$image" >/dev/null
echo "make_base: $image" >&2
