"""Instance state names (the subset of Nova's the design card fixes)."""

BUILDING = 'building'
ACTIVE = 'active'
STOPPED = 'stopped'
PAUSED = 'paused'
ERROR = 'error'
DELETED = 'deleted'
RESIZED = 'resized'     # a resize or cold migration waits for confirm/revert
# its memory saved to the host's disk (libvirt's managed save), its vCPUs
# and RAM given back to the scheduler until it resumes
SUSPENDED = 'suspended'
# booted from a rescue image, its own root disk the second disk
RESCUED = 'rescued'
VM_STATES = (BUILDING, ACTIVE, STOPPED, PAUSED, ERROR, DELETED, RESIZED,
             SUSPENDED, RESCUED)

SCHEDULING = 'scheduling'
SPAWNING = 'spawning'
REBOOTING = 'rebooting'
REBOOTING_HARD = 'rebooting_hard'
POWERING_OFF = 'powering_off'
POWERING_ON = 'powering_on'
PAUSING = 'pausing'
UNPAUSING = 'unpausing'
SUSPENDING = 'suspending'
RESUMING = 'resuming'
RESCUING = 'rescuing'
UNRESCUING = 'unrescuing'
# its root disk being copied into a new image (nova's name)
IMAGE_SNAPSHOT = 'image_snapshot'
# a NIC plugged into the running guest, or taken out of it
ATTACHING_INTERFACE = 'attaching_interface'
DETACHING_INTERFACE = 'detaching_interface'
ATTACHING_VOLUME = 'attaching_volume'
DETACHING_VOLUME = 'detaching_volume'
EXTENDING_VOLUME = 'extending_volume'
DELETING = 'deleting'
ISOLATING = 'isolating'
RELEASING = 'releasing'
MIGRATING = 'migrating'
REBUILDING = 'rebuilding'       # evacuated: rebuilt on another host
# rebuilt where it is: a fresh root disk from an image (nova's name)
REBUILD_SPAWNING = 'rebuild_spawning'
# a resize or cold migration (agent.conductor.resizes)
RESIZE_PREP = 'resize_prep'             # the destination is claimed
RESIZE_MIGRATING = 'resize_migrating'   # the source stops, sends the disk
RESIZE_FINISH = 'resize_finish'         # the destination makes the guest
RESIZE_REVERTING = 'resize_reverting'   # back to the source, old flavor
RESIZE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH,
                RESIZE_REVERTING)
TASK_STATES = (SCHEDULING, SPAWNING, REBOOTING, REBOOTING_HARD, POWERING_OFF,
               POWERING_ON, PAUSING, UNPAUSING, ATTACHING_VOLUME,
               DETACHING_VOLUME, EXTENDING_VOLUME, DELETING, ISOLATING,
               RELEASING, MIGRATING, REBUILDING, REBUILD_SPAWNING,
               SUSPENDING, RESUMING, RESCUING, UNRESCUING,
               IMAGE_SNAPSHOT, ATTACHING_INTERFACE,
               DETACHING_INTERFACE) + RESIZE_TASKS

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
# a resize's after the switch (nova's): the guest waits on the destination
# (finished, VERIFY_RESIZE) for confirmed, or goes back (reverting, reverted)
MIGRATION_FINISHED = 'finished'
MIGRATION_CONFIRMED = 'confirmed'
MIGRATION_REVERTING = 'reverting'
MIGRATION_REVERTED = 'reverted'
MIGRATION_STATUSES = (MIGRATION_ACCEPTED, MIGRATION_PREPARING,
                      MIGRATION_RUNNING, MIGRATION_SWITCHED,
                      MIGRATION_COMPLETED, MIGRATION_ERROR,
                      MIGRATION_CANCELLED, MIGRATION_FINISHED,
                      MIGRATION_CONFIRMED, MIGRATION_REVERTING,
                      MIGRATION_REVERTED)
MIGRATION_ACTIVE = (MIGRATION_ACCEPTED, MIGRATION_PREPARING,
                    MIGRATION_RUNNING)
LIVE_MIGRATION, EVACUATION = 'live-migration', 'evacuation'
RESIZE, COLD_MIGRATION = 'resize', 'migration'
RESIZE_TYPES = (RESIZE, COLD_MIGRATION)
MIGRATION_TYPES = (LIVE_MIGRATION, EVACUATION) + RESIZE_TYPES
