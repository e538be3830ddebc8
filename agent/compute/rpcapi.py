"""The client of hvagent-compute's RPC server (topic ``compute.<host>``):
what the conductor asks of one host's agent. The server is
agent.compute.manager.ComputeManager."""
from agent.rpc import clients


class ComputeAPI(clients.Client):
    """Client side of topic ``compute``; every message goes to one host.

    Version history:
      1.0 - build_and_run_instance, reboot_instance, stop_instance,
            start_instance, pause_instance, unpause_instance,
            terminate_instance, attach_volume, detach_volume (casts) and
            get_console_output (call)
      1.1 - isolate_instance, release_instance (casts; sent at 1.1)
      1.2 - refresh_networking (cast; sent at 1.2): rewire this host's
            ports from the conductor's view (a floating IP changed)
      1.3 - live migration (casts; sent at 1.3): prepare_live_migration,
            finish_live_migration, rollback_live_migration (to the
            destination), live_migration, live_migration_abort,
            live_migration_force_complete (to the source);
            rebuild_instance (an evacuated instance, to its new host)
      1.4 - resize and cold migration (casts; sent at 1.4): resize_instance,
            confirm_resize, finish_revert_resize (to the source),
            finish_resize, revert_resize (to the destination)
      1.5 - get_console (call; sent at 1.5): where the console proxy
            reaches a guest's serial or VNC console
      1.6 - suspend_instance, resume_instance (casts; sent at 1.6): the
            guest's memory to the host's disk and back; extend_volume
            (cast; sent at 1.6): an attached volume grown, the guest told;
            rebuild_in_place (cast; sent at 1.6): a fresh root disk from
            the instance's (new) image, the same ports and volumes;
            rescue_instance, unrescue_instance (casts; sent at 1.6)
      1.7 - snapshot_instance (cast; sent at 1.7): the root disk copied
            into the image the conductor recorded, uploaded to hvagent-api;
            attach_interface, detach_interface (casts; sent at 1.7): the
            guest's NICs made those of the instance's ports

    Mandatory: a cast sent while compute.<host> does not exist (the broker
    restarted and the agent has not reconnected yet) is sent again until
    the agent's queue takes it (bus.retry_undeliverable), not lost.
    """
    TOPIC = 'compute'
    SERVICE = 'compute'
    MANDATORY = True

    def build_and_run_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'build_and_run_instance', host,
                   instance_uuid=instance_uuid)

    def reboot_instance(self, ctxt, host, instance_uuid, reboot_type):
        self._cast(ctxt, 'reboot_instance', host,
                   instance_uuid=instance_uuid, reboot_type=reboot_type)

    def stop_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'stop_instance', host, instance_uuid=instance_uuid)

    def start_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'start_instance', host, instance_uuid=instance_uuid)

    def pause_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'pause_instance', host, instance_uuid=instance_uuid)

    def unpause_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'unpause_instance', host,
                   instance_uuid=instance_uuid)

    def suspend_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'suspend_instance', host, version='1.6',
                   instance_uuid=instance_uuid)

    def resume_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'resume_instance', host, version='1.6',
                   instance_uuid=instance_uuid)

    def terminate_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'terminate_instance', host,
                   instance_uuid=instance_uuid)

    def isolate_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'isolate_instance', host, version='1.1',
                      instance_uuid=instance_uuid)

    def release_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'release_instance', host, version='1.1',
                      instance_uuid=instance_uuid)

    def refresh_networking(self, ctxt, host):
        self._cast(ctxt, 'refresh_networking', host, version='1.2')

    def attach_volume(self, ctxt, host, instance_uuid, volume_id):
        self._cast(ctxt, 'attach_volume', host, instance_uuid=instance_uuid,
                   volume_id=volume_id)

    def detach_volume(self, ctxt, host, instance_uuid, volume_id):
        self._cast(ctxt, 'detach_volume', host, instance_uuid=instance_uuid,
                   volume_id=volume_id)

    def rescue_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'rescue_instance', host, version='1.6',
                   instance_uuid=instance_uuid)

    def unrescue_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'unrescue_instance', host, version='1.6',
                   instance_uuid=instance_uuid)

    def attach_interface(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'attach_interface', host, version='1.7',
                   instance_uuid=instance_uuid)

    def detach_interface(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'detach_interface', host, version='1.7',
                   instance_uuid=instance_uuid)

    def snapshot_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'snapshot_instance', host, version='1.7',
                   instance_uuid=instance_uuid)

    def rebuild_in_place(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'rebuild_in_place', host, version='1.6',
                   instance_uuid=instance_uuid)

    def extend_volume(self, ctxt, host, instance_uuid, volume_id):
        self._cast(ctxt, 'extend_volume', host, version='1.6',
                   instance_uuid=instance_uuid, volume_id=volume_id)

    def get_console_output(self, ctxt, host, instance_uuid, tail_length):
        return self._call(ctxt, 'get_console_output', host,
                          instance_uuid=instance_uuid, tail_length=tail_length)

    def prepare_live_migration(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'prepare_live_migration', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def live_migration(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'live_migration', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def live_migration_abort(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'live_migration_abort', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def live_migration_force_complete(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'live_migration_force_complete', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def finish_live_migration(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'finish_live_migration', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def rollback_live_migration(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'rollback_live_migration', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def rebuild_instance(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'rebuild_instance', host, version='1.3',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def resize_instance(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'resize_instance', host, version='1.4',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def finish_resize(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'finish_resize', host, version='1.4',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def confirm_resize(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'confirm_resize', host, version='1.4',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def revert_resize(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'revert_resize', host, version='1.4',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def finish_revert_resize(self, ctxt, host, instance_uuid, migration_uuid):
        self._cast(ctxt, 'finish_revert_resize', host, version='1.4',
                   instance_uuid=instance_uuid, migration_uuid=migration_uuid)

    def get_console(self, ctxt, host, instance_uuid, protocol):
        return self._call(ctxt, 'get_console', host, version='1.5',
                          instance_uuid=instance_uuid, protocol=protocol)
