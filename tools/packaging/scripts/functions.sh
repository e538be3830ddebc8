# Shared by the maintainer scripts of every hvagent package, deb and rpm:
# tools/build-packages writes each script as "#!/bin/sh, set -e, the
# package's vars, this file, functions-<format>.sh, the phase's entry" (no
# file of the package is needed at run time, so the same code works in
# preinst and postrm).
#
# ROOT is the target root: dpkg --root=DIR --force-script-chrootless runs the
# scripts on the host with DPKG_ROOT=DIR, so every path is "$ROOT/...", users
# are managed with --prefix and owners are numeric ids read from the target's
# files (the host's NSS does not know the target's hvagent). rpm --root
# chroots instead, where ROOT is empty as on a normal install.
ROOT=${DPKG_ROOT:-}
HV_USER=hvagent
HV_HOME=/var/lib/hvagent
HV_CONF=/etc/hvagent/hvagent.conf
HV_VENV=/usr/lib/hvagent/venv
if [ -n "$ROOT" ]; then HV_PREFIX="--prefix $ROOT"; else HV_PREFIX=""; fi

# hv_id passwd|group NAME: the numeric id of NAME in the target's file
hv_id() {
    [ -f "$ROOT/etc/$1" ] || return 0
    awk -F: -v n="$2" '$1 == n { print $3; exit }' "$ROOT/etc/$1"
}

# The hvagent system user and group (the same as
# /usr/lib/sysusers.d/hvagent.conf, which recreates them on systemd hosts).
hv_ensure_user() {
    if [ -z "$(hv_id group "$HV_USER")" ]; then
        groupadd $HV_PREFIX --system "$HV_USER"
    fi
    if [ -z "$(hv_id passwd "$HV_USER")" ]; then
        useradd $HV_PREFIX --system --gid "$HV_USER" --home-dir "$HV_HOME" \
            --no-create-home --shell /usr/sbin/nologin \
            --comment "hvagent services" "$HV_USER"
    fi
}

# The state directory (the units' StateDirectory= would create it too),
# world-traversable like the unit's default StateDirectoryMode=0755: QEMU
# (libvirt-qemu) opens the instance disks kept under it. The config file is
# readable by the services' group only (it holds the transport and database
# credentials).
hv_state_and_config() {
    uid=$(hv_id passwd "$HV_USER")
    gid=$(hv_id group "$HV_USER")
    [ -n "$uid" ] && [ -n "$gid" ] || { echo "hvagent: user $HV_USER missing" >&2; exit 1; }
    install -d -m 0755 -o "$uid" -g "$gid" "$ROOT$HV_HOME"
    if [ -f "$ROOT$HV_CONF" ]; then
        chgrp "$gid" "$ROOT$HV_CONF"
        chmod 0640 "$ROOT$HV_CONF"
    fi
}

# The compute agent's user joins the libvirt group (qemu:///system access).
# The group belongs to the libvirt daemon package this one depends on.
hv_join_libvirt() {
    if [ -z "$(hv_id group libvirt)" ]; then
        echo "hvagent: no libvirt group yet; add $HV_USER to it once libvirt is installed" >&2
        return 0
    fi
    case ",$(awk -F: '$1 == "libvirt" { print $4 }' "$ROOT/etc/group")," in
        *",$HV_USER,"*) ;;
        *) usermod $HV_PREFIX --append --groups libvirt "$HV_USER" ;;
    esac
}

# Bytecode of the venv: compiled on the target (the package ships none, so
# it matches the target's interpreter), removed before the files go.
hv_compile() {
    py=$(command -v python3.11) || {
        echo "hvagent: python3.11 not found, bytecode not compiled" >&2; return 0; }
    if [ -n "$ROOT" ]; then
        "$py" -m compileall -qq -j 0 -s "$ROOT" -p / "$ROOT$HV_VENV/lib" || true
    else
        "$py" -m compileall -qq -j 0 "$HV_VENV/lib" || true
    fi
}
hv_clean_bytecode() {
    [ -d "$ROOT$HV_VENV" ] || return 0
    find "$ROOT$HV_VENV" -name __pycache__ -type d -prune -exec rm -rf {} +
}

# systemd: nothing is enabled or started by the packages; a running service
# is stopped on removal and restarted on upgrade. Never in a target root.
hv_systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
