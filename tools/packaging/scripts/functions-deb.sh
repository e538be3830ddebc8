# Functions of the deb maintainer scripts (after functions.sh).

# deb (debhelper's --no-enable/--no-start equivalents): deb-systemd-helper
# (it honours DPKG_ROOT) learns the units so that purge removes what an
# operator enabled; deb-systemd-invoke only where systemd runs.
hv_deb_units_configure() {  # $1: the version configured before, if any
    for u in $HV_UNITS; do deb-systemd-helper update-state "$u" >/dev/null || true; done
    if hv_systemd_running; then
        systemctl --system daemon-reload >/dev/null || true
        [ -z "$1" ] || deb-systemd-invoke try-restart $HV_UNITS >/dev/null || true
    fi
}
hv_deb_units_stop() {
    if hv_systemd_running; then deb-systemd-invoke stop $HV_UNITS >/dev/null || true; fi
}
hv_deb_units_postrm() {  # $1: the postrm action
    if hv_systemd_running; then systemctl --system daemon-reload >/dev/null || true; fi
    if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null; then
        for u in $HV_UNITS; do deb-systemd-helper purge "$u" >/dev/null || true; done
    fi
}
