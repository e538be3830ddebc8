"""Instance state names (the subset of Nova's the design card fixes)."""

BUILDING = 'building'
ACTIVE = 'active'
STOPPED = 'stopped'
PAUSED = 'paused'
ERROR = 'error'
DELETED = 'deleted'
VM_STATES = (BUILDING, ACTIVE, STOPPED, PAUSED, ERROR, DELETED)

SCHEDULING = 'scheduling'
SPAWNING = 'spawning'
REBOOTING = 'rebooting'
REBOOTING_HARD = 'rebooting_hard'
POWERING_OFF = 'powering_off'
POWERING_ON = 'powering_on'
PAUSING = 'pausing'
UNPAUSING = 'unpausing'
ATTACHING_VOLUME = 'attaching_volume'
DETACHING_VOLUME = 'detaching_volume'
DELETING = 'deleting'
ISOLATING = 'isolating'
RELEASING = 'releasing'
MIGRATING = 'migrating'
REBUILDING = 'rebuilding'       # evacuated: rebuilt on another host
TASK_STATES = (SCHEDULING, SPAWNING, REBOOTING, REBOOTING_HARD, POWERING_OFF,
               POWERING_ON, PAUSING, UNPAUSING, ATTACHING_VOLUME,
               DETACHING_VOLUME, DELETING, ISOLATING, RELEASING, MIGRATING,
               REBUILDING)

# power_state as the hypervisor reports it
NOSTATE = 'nostate'
RUNNING = 'running'
PAUSED_POWER = 'paused'
SHUTDOWN = 'shutdown'
CRASHED = 'crashed'
POWER_STATES = (NOSTATE, RUNNING, PAUSED_POWER, SHUTDOWN, CRASHED)

# a migration's status (agent.conductor.migrations), in the order a live
# migration passes through them; the last three are final
MIGRATION_ACCEPTED = 'accepted'      # destination claimed
MIGRATION_PREPARING = 'preparing'    # the destination makes files, ports
MIGRATION_RUNNING = 'running'        # the source's hypervisor copies
MIGRATION_SWITCHED = 'post-migrating'  # the instance is the destination's
MIGRATION_COMPLETED = 'completed'
MIGRATION_ERROR = 'error'
MIGRATION_CANCELLED = 'cancelled'
MIGRATION_STATUSES = (MIGRATION_ACCEPTED, MIGRATION_PREPARING,
                      MIGRATION_RUNNING, MIGRATION_SWITCHED,
                      MIGRATION_COMPLETED, MIGRATION_ERROR,
                      MIGRATION_CANCELLED)
MIGRATION_ACTIVE = (MIGRATION_ACCEPTED, MIGRATION_PREPARING,
                    MIGRATION_RUNNING)
MIGRATION_TYPES = ('live-migration', 'evacuation')
