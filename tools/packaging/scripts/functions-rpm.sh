# Functions of the rpm scriptlets (after functions.sh).

# rpm (the %systemd_post/%systemd_preun/%systemd_postun_with_restart
# equivalents, without the preset: nothing is enabled by the package).
hv_rpm_units_post() {
    if hv_systemd_running; then systemctl --system daemon-reload >/dev/null || :; fi
}
hv_rpm_units_preun() {  # $1: the number of versions left after this one
    if [ "$1" -eq 0 ] && hv_systemd_running; then
        systemctl --no-reload disable --now $HV_UNITS >/dev/null 2>&1 || :
    fi
}
hv_rpm_units_postun() {  # $1: the number of versions left
    if hv_systemd_running; then
        systemctl --system daemon-reload >/dev/null || :
        [ "$1" -eq 0 ] || systemctl try-restart $HV_UNITS >/dev/null 2>&1 || :
    fi
}
