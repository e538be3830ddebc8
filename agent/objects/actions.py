"""The user actions on an instance, one declaration each.

An action is asked of hvagent-api (allowed by its policy ``rule``) or of
hvctl, checked and recorded by the conductor (the instance must be in one
of the ``allowed`` vm_states; ``task_state`` is set in the same
transaction) and cast to the instance's agent as ``method``, which runs
only while the instance is still in that task_state. Everything else that
names an action derives from ACTIONS: the conductor's instance_action
(agent.conductor.lifecycle), the agent's expected task states and power
operations (agent.compute.manager), hvagent-api's rule per action and
the keys of nova's server action body (agent.api.compute.server_actions).
"""
import dataclasses

from agent.objects import states as S


@dataclasses.dataclass(frozen=True)
class Power:
    """What a power action does on the host: the driver's ``call``, the
    driver capability it needs (None: every driver has it), the power
    state it leads to and the vm_state the instance ends in."""
    call: str
    capability: str | None
    power_state: str
    vm_state: str
    #: the driver's call is made even when the guest is in ``power_state``
    #: already (a shut-off guest is suspended only if its memory was saved:
    #: the driver tells, and refuses one that was not)
    always_call: bool = False


@dataclasses.dataclass(frozen=True)
class Action:
    name: str
    allowed: tuple[str, ...]
    task_state: str
    method: str
    rule: str
    #: asked as one of POST /servers/{id}/action's keys (os-start,
    #: reboot...: agent.api.compute.server_actions), not its own route
    in_body: bool = True
    #: still allowed while the instance is isolated (its owner must not
    #: undo a quarantine)
    while_isolated: bool = False
    #: reboot_instance's reboot_type
    reboot_type: str | None = None
    power: Power | None = None
    #: takes back the vCPUs and RAM its instance gave up when suspended
    #: (the conductor claims them on the host as it records the action,
    #: agent.scheduler.claim.reclaim_compute; no room: refused)
    reclaims_compute: bool = False


_LIVE = (S.ACTIVE, S.STOPPED, S.PAUSED)

ACTIONS = (
    Action('start', (S.STOPPED,), S.POWERING_ON, 'start_instance',
           'server:start',
           power=Power('power_on', None, S.RUNNING, S.ACTIVE)),
    Action('stop', (S.ACTIVE, S.PAUSED, S.ERROR), S.POWERING_OFF,
           'stop_instance', 'server:stop', while_isolated=True,
           power=Power('power_off', None, S.SHUTDOWN, S.STOPPED)),
    Action('reboot', (S.ACTIVE,), S.REBOOTING, 'reboot_instance',
           'server:reboot', reboot_type='SOFT'),
    Action('reboot_hard', (S.ACTIVE, S.STOPPED, S.PAUSED, S.ERROR),
           S.REBOOTING_HARD, 'reboot_instance', 'server:reboot',
           reboot_type='HARD'),
    Action('pause', (S.ACTIVE,), S.PAUSING, 'pause_instance', 'server:pause',
           power=Power('pause', 'supports_pause', S.PAUSED_POWER, S.PAUSED)),
    Action('unpause', (S.PAUSED,), S.UNPAUSING, 'unpause_instance',
           'server:unpause',
           power=Power('unpause', 'supports_pause', S.RUNNING, S.ACTIVE)),
    # the guest's memory to the host's disk; its vCPUs and RAM are
    # released when the suspend is recorded (agent.conductor.agent_calls)
    Action('suspend', (S.ACTIVE, S.PAUSED), S.SUSPENDING, 'suspend_instance',
           'server:suspend',
           power=Power('suspend', 'supports_suspend', S.SHUTDOWN,
                       S.SUSPENDED, always_call=True)),
    Action('resume', (S.SUSPENDED,), S.RESUMING, 'resume_instance',
           'server:resume', reclaims_compute=True,
           power=Power('resume', 'supports_suspend', S.RUNNING, S.ACTIVE)),
    # a fresh root disk from an image (the same or another), the same
    # instance: id, ports and addresses, volumes (agent.compute.rebuild)
    Action('rebuild', (S.ACTIVE, S.STOPPED, S.ERROR), S.REBUILD_SPAWNING,
           'rebuild_in_place', 'server:rebuild', in_body=False),
    # boot from a rescue image with its own disk as the second disk, and
    # back (agent.compute.rescue)
    Action('rescue', (S.ACTIVE, S.STOPPED, S.ERROR), S.RESCUING,
           'rescue_instance', 'server:rescue', in_body=False),
    Action('unrescue', (S.RESCUED,), S.UNRESCUING, 'unrescue_instance',
           'server:unrescue'),
    # the root disk copied into a new image of the caller's project
    # (agent.conductor.snapshots records it, agent.compute.snapshot)
    Action('snapshot', (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED),
           S.IMAGE_SNAPSHOT, 'snapshot_instance', 'server:create_image',
           in_body=False),
    # itsec's quarantine: ports drop everything, the guest is paused
    Action('isolate', _LIVE, S.ISOLATING, 'isolate_instance',
           'server:isolate', while_isolated=True),
    Action('release', _LIVE, S.RELEASING, 'release_instance',
           'server:release', while_isolated=True),
    Action('attach_volume', _LIVE, S.ATTACHING_VOLUME, 'attach_volume',
           'server:volumes', in_body=False),
    Action('detach_volume', _LIVE, S.DETACHING_VOLUME, 'detach_volume',
           'server:volumes', in_body=False),
    # a new port on a network the project may use, plugged into the
    # guest; and a port taken out of it and deleted
    # (agent.conductor.interfaces, agent.compute.interfaces)
    Action('attach_interface', _LIVE, S.ATTACHING_INTERFACE,
           'attach_interface', 'server:interface', in_body=False),
    Action('detach_interface', _LIVE, S.DETACHING_INTERFACE,
           'detach_interface', 'server:interface', in_body=False),
    # an attached volume grown (Block Storage's os-extend, asked of the
    # volume: agent.conductor.volumes records it as this action)
    Action('extend_volume', _LIVE, S.EXTENDING_VOLUME, 'extend_volume',
           'volume:extend', in_body=False),
    Action('delete', S.VM_STATES, S.DELETING, 'terminate_instance',
           'server:delete', in_body=False, while_isolated=True),
)
BY_NAME = {a.name: a for a in ACTIONS}
#: what POST /servers/{id}/action takes
IN_BODY = tuple(a.name for a in ACTIONS if a.in_body)
#: the power actions by the agent's method
POWER_BY_METHOD = {a.method: a for a in ACTIONS if a.power is not None}


def task_states_of(method: str) -> tuple[str, ...]:
    """The task states the agent's ``method`` runs in: those of the
    actions cast as it."""
    return tuple(a.task_state for a in ACTIONS if a.method == method)
