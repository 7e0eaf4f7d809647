#!/bin/sh
# Writes placeholder sources for every target that Cargo.toml declares, so that the container
# image's dependency layer builds from Cargo.toml and Cargo.lock alone (see the Dockerfile). The
# real sources are copied over these afterwards; files that already exist are left alone.
#
#   scripts/docker-stub-crate.sh [DIR]     # DIR holds Cargo.toml (default: the current directory)
#
# POSIX sh and awk only: it runs inside the build image.
set -eu
cd "${1:-.}"
test -f Cargo.toml || { echo "docker-stub-crate: no Cargo.toml in $(pwd)" >&2; exit 2; }

# One "KIND PATH" line per target: explicit `path =` if given, else Cargo's default location.
targets=$(awk '
  function emit() {
    if (kind == "") return
    p = path
    if (p == "") {
      if (kind == "lib") p = "src/lib.rs"
      else if (kind == "bin") p = (name == "" ? "src/main.rs" : "src/bin/" name ".rs")
      else if (kind == "bench") p = "benches/" name ".rs"
      else if (kind == "test") p = "tests/" name ".rs"
      else if (kind == "example") p = "examples/" name ".rs"
    }
    print kind, p
  }
  function value(line) {
    sub(/^[^=]*=[ \t]*"/, "", line)
    sub(/".*$/, "", line)
    return line
  }
  /^[ \t]*\[/ {
    emit(); kind = ""; name = ""; path = ""
    if ($0 ~ /^[ \t]*\[lib\]/) kind = "lib"
    else if ($0 ~ /^[ \t]*\[\[(bin|bench|test|example)\]\]/) {
      kind = $0; sub(/^[ \t]*\[\[/, "", kind); sub(/\]\].*$/, "", kind)
    }
    next
  }
  kind != "" && /^[ \t]*name[ \t]*=/ { name = value($0) }
  kind != "" && /^[ \t]*path[ \t]*=/ { path = value($0) }
  END { emit() }
' Cargo.toml)

# The default targets, whether declared or not.
targets=$(printf '%s\nlib src/lib.rs\nbin src/main.rs\n' "$targets")

printf '%s\n' "$targets" | while read -r kind path; do
  [ -n "$kind" ] || continue
  [ -e "$path" ] && continue
  mkdir -p "$(dirname "$path")"
  if [ "$kind" = lib ]; then
    : > "$path"
  else
    echo 'fn main() {}' > "$path"
  fi
done
