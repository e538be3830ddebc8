"""What every hvagent daemon shares: its life from start to stop.

* ``service`` - config, logging, the RPC servers and periodic tasks,
  signals (stop, reload), waiting for what a service needs at start, and
  the exit codes;
* ``systemd`` - sd_notify(3) (READY, STATUS, the watchdog) and journald
  detection;
* ``logs`` - stderr logging, journald priorities, the levels a SIGHUP can
  change.
"""
