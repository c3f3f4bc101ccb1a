# Sourced by the wrappers: finds a binary of ours. Order: $RTCLOUD_BIN/NAME, NAME on
# PATH, target/release/NAME, else builds it with cargo (release).
rtcloud_bin() {
    local name="$1" root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if [ -n "${RTCLOUD_BIN:-}" ] && [ -x "$RTCLOUD_BIN/$name" ]; then
        echo "$RTCLOUD_BIN/$name"
    elif command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
    else
        if [ ! -x "$root/target/release/$name" ]; then
            echo "building $name (release) ..." >&2
            (cd "$root" && cargo build --release -q -p "$name") >&2
        fi
        echo "$root/target/release/$name"
    fi
}

# `-p PASSWORD` as RT-Cloud takes it: into a private temp file for --password-file
# (a password on a command line is visible to every user of the machine: prefer
# --password-file or the prompt).
rtcloud_password_file() {
    local file
    file="$(mktemp)"
    chmod 600 "$file"
    printf '%s\n' "$1" >"$file"
    echo "$file"
}
