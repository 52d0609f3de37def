# Tools/lib/bookworm-apt.bash: sourced by Tools/libgpiod2/fetch and Tools/gpio-vm/run (not run on its own).
# A private APT for Debian 12 "bookworm" (main, -updates, -security, -backports) that lives entirely inside the
# chekt-bridge cache folder: own sources.list, lists, empty dpkg status, archive cache. It only downloads .debs
# (apt-get download) for extraction with dpkg-deb -x; it never installs them and never reads or changes the machine's
# own APT sources, lists or dpkg database. Also: the cache lock and installing missing host tools.
#
# Cache: ${CHEKT_BRIDGE_CACHE:-$HOME/.cache/chekt-bridge}; apt/ holds the private APT (lists and their cache: about
# 55 MB, refreshed when older than 7 days, when asked with --refresh, or when a download fails because the lists went
# stale), debs/ the downloaded packages. Clear everything with: rm -rf "${CHEKT_BRIDGE_CACHE:-$HOME/.cache/chekt-bridge}"

chekt_cache=${CHEKT_BRIDGE_CACHE:-$HOME/.cache/chekt-bridge}
chekt_debs=$chekt_cache/debs
papt_dir=$chekt_cache/apt
papt_max_age_days=7
papt_mirror=http://deb.debian.org/debian
papt_security=http://security.debian.org/debian-security
papt_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# The calling script sets chekt_tool (its name, the prefix of every message).
chekt_say() { echo "${chekt_tool:-chekt}: $*" >&2; }
chekt_die() { echo "${chekt_tool:-chekt}: error: $*" >&2; exit "${chekt_die_status:-1}"; }

# Seconds since the epoch with milliseconds, for the phase timings.
chekt_now() { date +%s.%3N; }
# chekt_elapsed START: seconds since START, one decimal.
chekt_elapsed() { awk -v a="$1" -v b="$(chekt_now)" 'BEGIN { printf "%.1f", b - a }'; }

# chekt_host_packages PKG...: installs the missing ones from the machine's own APT (as root, or through sudo).
# Idempotent: nothing happens when all are installed.
chekt_host_packages() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null ||
            chekt_die "host packages missing, not root and no sudo: apt-get install --no-install-recommends ${missing[*]}"
        sudo=(sudo)
    fi
    chekt_say "installing host packages: ${missing[*]}"
    # Without fresh lists the install can fail on a package the machine has never seen; update once then.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { "${sudo[@]}" apt-get update -q >&2 &&
          "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
        chekt_die "could not install host packages ${missing[*]} (apt-get install failed, see above)"
}

# chekt_lock: serialises the download/build phases of every script sharing the cache (fd 9, released at exit or
# with chekt_unlock). Two runs started together then download each file once.
chekt_lock() {
    mkdir -p "$chekt_cache" || chekt_die "cannot create the cache folder $chekt_cache"
    exec 9>"$chekt_cache/.lock" || chekt_die "cannot open $chekt_cache/.lock"
    if ! flock -n 9; then
        chekt_say "waiting for another run holding $chekt_cache/.lock"
        flock 9 || chekt_die "cannot lock $chekt_cache/.lock"
    fi
}
chekt_unlock() { flock -u 9 2>/dev/null || true; }

# papt_setup: writes the private configuration and exports APT_CONFIG. APT reads $APT_CONFIG first; it points
# Dir::Etc::parts at an empty folder, so the machine's apt.conf.d (proxies aside: none here) does not apply either.
papt_setup() {
    [ -r "$papt_keyring" ] || chekt_die "$papt_keyring is missing: install debian-archive-keyring"
    mkdir -p "$papt_dir"/etc/{apt.conf.d,preferences.d,sources.list.d,trusted.gpg.d} \
             "$papt_dir"/state/lists/partial "$papt_dir"/cache/archives/partial "$papt_dir"/log "$chekt_debs" ||
        chekt_die "cannot create $papt_dir"
    [ -e "$papt_dir/state/status" ] || : >"$papt_dir/state/status"
    cat >"$papt_dir/etc/sources.list.new" <<SOURCES
deb [signed-by=$papt_keyring] $papt_mirror bookworm main
deb [signed-by=$papt_keyring] $papt_mirror bookworm-updates main
deb [signed-by=$papt_keyring] $papt_security bookworm-security main
deb [signed-by=$papt_keyring] $papt_mirror bookworm-backports main
SOURCES
    cat >"$papt_dir/apt.conf.new" <<CONF
// Written by Tools/lib/bookworm-apt.bash: a download-only APT inside the chekt-bridge cache.
Dir::Etc "$papt_dir/etc/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::main "apt.conf";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d";
Dir::State "$papt_dir/state/";
Dir::State::status "$papt_dir/state/status";
Dir::Cache "$papt_dir/cache/";
Dir::Log "$papt_dir/log/";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
// Lists kept compressed and no source cache: about 55 MB on disk instead of 130 MB.
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
Dir::Cache::srcpkgcache "";
Acquire::Retries "3";
APT::Sandbox::User "root";
CONF
    local f
    for f in etc/sources.list apt.conf; do
        if cmp -s "$papt_dir/$f.new" "$papt_dir/$f"; then rm -f "$papt_dir/$f.new"
        else mv "$papt_dir/$f.new" "$papt_dir/$f"; rm -f "$papt_dir/state/updated"; fi
    done
    export APT_CONFIG=$papt_dir/apt.conf
}

# papt_update [force]: apt-get update of the private lists when forced, never done, or older than the limit.
papt_update() {
    local stamp=$papt_dir/state/updated
    if [ "${1:-}" != force ] && [ -e "$stamp" ] && [ -z "$(find "$stamp" -mtime +"$((papt_max_age_days - 1))")" ]; then
        return 0
    fi
    chekt_say "updating the private bookworm package lists ($papt_dir)"
    apt-get update -q >&2 || chekt_die "apt-get update of the private lists failed (network? deb.debian.org / security.debian.org)"
    touch "$stamp"
}

# papt_version PKG [RELEASE]: the candidate version of PKG (from RELEASE if given: bookworm-backports), or dies.
papt_version() {
    local pkg=$1 release=${2:-} v
    local opts=()
    [ -z "$release" ] || opts=(-o "APT::Default-Release=$release")
    v=$(apt-cache "${opts[@]}" policy "$pkg" | awk '$1 == "Candidate:" { print $2 }') ||
        chekt_die "apt-cache policy $pkg failed"
    [[ -n $v && $v != "(none)" ]] || chekt_die "no package $pkg in the private bookworm lists${release:+ ($release)}"
    echo "$v"
}

# papt_fetch PKG=VERSION...: makes sure each .deb is in $chekt_debs (downloading only what is missing) and prints
# their paths, one a line, in the order asked. A failed look-up or download refreshes the lists once and retries (the
# mirrors drop superseded versions).
papt_fetch() {
    local uris line file size arg name path
    local -A file_of=() size_of=()
    uris=$(apt-get download --print-uris "$@" 2>&1) || {
        papt_update force
        uris=$(apt-get download --print-uris "$@" 2>&1) || chekt_die "apt cannot locate $*: $uris"
    }
    while read -r line; do
        [[ $line == \'* ]] || continue
        read -r _ file size _ <<<"$line"
        file_of[${file%%_*}]=$file
        size_of[${file%%_*}]=$size
    done <<<"$uris"
    local want=() paths=()
    for arg in "$@"; do
        name=${arg%%[=/]*}
        [ -n "${file_of[$name]:-}" ] || chekt_die "apt-get download --print-uris gave no file for $arg: $uris"
        path=$chekt_debs/${file_of[$name]}
        paths+=("$path")
        [ -s "$path" ] && [ "$(stat -c %s "$path")" = "${size_of[$name]}" ] || want+=("$arg")
    done
    if ((${#want[@]})); then
        chekt_say "downloading ${want[*]}"
        if ! (cd "$chekt_debs" && apt-get download -q "${want[@]}" >&2); then
            papt_update force
            (cd "$chekt_debs" && apt-get download -q "${want[@]}" >&2) || chekt_die "apt-get download ${want[*]} failed"
        fi
        for path in "${paths[@]}"; do
            dpkg-deb --info "$path" >/dev/null 2>&1 || chekt_die "downloaded $path is not a valid .deb"
        done
    fi
    printf '%s\n' "${paths[@]}"
}
