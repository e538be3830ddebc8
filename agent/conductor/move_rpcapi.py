"""The conductor client's methods for moving instances (live migration,
evacuate, resize and cold migration): the agents' steps (topic
``conductor``, served by agent.conductor.migration_steps and resize_steps)
and the operators' requests (topic ``conductor_api``, served by
agent.conductor.migrations, evacuations and resizes). agent.conductor.rpcapi
joins them into AgentMethods and UserMethods; their versions are in
ConductorAPI's history there.
"""
from agent.conductor.topics_rpcapi import AGENT_TOPIC
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.rpc import clients


class MoveAgentMethods(clients.Client):
    """Topic ``conductor``: a compute agent's steps of a move."""
    SERVES = AGENT_TOPIC

    # moves (1.12; agent.conductor.migration_steps)
    def migration_step_start(self, ctxt, *, migration_uuid, host, event):
        return self._call(
            ctxt, 'migration_step_start', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host, event=event)

    def live_migration_prepared(self, ctxt, *, migration_uuid, host, address,
                                shared_storage):
        return self._call(
            ctxt, 'live_migration_prepared', topic=AGENT_TOPIC,
            version='1.12', migration_uuid=migration_uuid, host=host,
            address=address, shared_storage=shared_storage)

    def migration_progress(self, ctxt, *, migration_uuid, host, progress):
        return self._call(
            ctxt, 'migration_progress', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host, progress=progress)

    def live_migration_completed(self, ctxt, *, migration_uuid, host,
                                 progress):
        return self._call(
            ctxt, 'live_migration_completed', topic=AGENT_TOPIC,
            version='1.12', migration_uuid=migration_uuid, host=host,
            progress=progress)

    def live_migration_finished(self, ctxt, *, migration_uuid, host,
                                power_state):
        return self._call(
            ctxt, 'live_migration_finished', topic=AGENT_TOPIC,
            version='1.12', migration_uuid=migration_uuid, host=host,
            power_state=power_state)

    def live_migration_failed(self, ctxt, *, migration_uuid, host, event,
                              reason, cancelled=clients.UNSET,
                              traceback=clients.UNSET):
        return self._call(
            ctxt, 'live_migration_failed', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host, event=event,
            reason=reason, cancelled=cancelled, traceback=traceback)

    def evacuation_done(self, ctxt, *, migration_uuid, host, result):
        return self._call(
            ctxt, 'evacuation_done', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host, result=result)

    def migration_cleaned(self, ctxt, *, migration_uuid, host, event, result,
                          traceback=clients.UNSET):
        return self._call(
            ctxt, 'migration_cleaned', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host, event=event,
            result=result, traceback=traceback)

    # resize and cold migration (1.13; agent.conductor.resize_steps)
    def resize_migrated(self, ctxt, *, migration_uuid, host,
                        address=clients.UNSET):
        return self._call(
            ctxt, 'resize_migrated', topic=AGENT_TOPIC,
            version='1.14' if address else '1.13',
            migration_uuid=migration_uuid, host=host, address=address)

    def resize_finished(self, ctxt, *, migration_uuid, host, power_state):
        return self._call(
            ctxt, 'resize_finished', topic=AGENT_TOPIC, version='1.13',
            migration_uuid=migration_uuid, host=host, power_state=power_state)

    def resize_reverted(self, ctxt, *, migration_uuid, host, power_state):
        return self._call(
            ctxt, 'resize_reverted', topic=AGENT_TOPIC, version='1.13',
            migration_uuid=migration_uuid, host=host, power_state=power_state)

    def resize_failed(self, ctxt, *, migration_uuid, host, event, reason,
                      traceback=clients.UNSET):
        return self._call(
            ctxt, 'resize_failed', topic=AGENT_TOPIC, version='1.13',
            migration_uuid=migration_uuid, host=host, event=event,
            reason=reason, traceback=traceback)

    def migrations_by_host(self, ctxt, *, host):
        return self._call(
            ctxt, 'migrations_by_host', topic=AGENT_TOPIC, version='1.12',
            host=host)

    def migration_ports(self, ctxt, *, migration_uuid, host):
        return self._call(
            ctxt, 'migration_ports', topic=AGENT_TOPIC, version='1.12',
            migration_uuid=migration_uuid, host=host)


class MoveUserMethods(clients.Client):
    """Topic ``conductor_api``: moves as operators and projects ask."""
    SERVES = API_TOPIC

    # moves (1.12; agent.conductor.migrations), admins only
    def live_migrate(self, ctxt, *, ref, host=clients.UNSET,
                     block_migration=clients.UNSET):
        return self._call(
            ctxt, 'live_migrate', topic=API_TOPIC, version='1.12', ref=ref,
            host=host, block_migration=block_migration)

    def evacuate(self, ctxt, *, ref, host=clients.UNSET):
        return self._call(
            ctxt, 'evacuate', topic=API_TOPIC, version='1.12', ref=ref,
            host=host)

    # resize and cold migration (1.13; agent.conductor.resizes): resize,
    # resize_confirm and resize_revert for the instance's project, migrate
    # for admins
    def resize(self, ctxt, *, ref, flavor):
        return self._call(
            ctxt, 'resize', topic=API_TOPIC, version='1.13', ref=ref,
            flavor=flavor)

    def migrate(self, ctxt, *, ref, host=clients.UNSET):
        return self._call(
            ctxt, 'migrate', topic=API_TOPIC, version='1.13', ref=ref,
            host=host)

    def resize_confirm(self, ctxt, *, ref):
        return self._call(
            ctxt, 'resize_confirm', topic=API_TOPIC, version='1.13', ref=ref)

    def resize_revert(self, ctxt, *, ref):
        return self._call(
            ctxt, 'resize_revert', topic=API_TOPIC, version='1.13', ref=ref)

    def migration_abort(self, ctxt, *, ref, migration_uuid=clients.UNSET):
        return self._call(
            ctxt, 'migration_abort', topic=API_TOPIC, version='1.12', ref=ref,
            migration_uuid=migration_uuid)

    def migration_force_complete(self, ctxt, *, ref,
                                 migration_uuid=clients.UNSET):
        return self._call(
            ctxt, 'migration_force_complete', topic=API_TOPIC,
            version='1.12', ref=ref, migration_uuid=migration_uuid)

    def migration_show(self, ctxt, *, migration_uuid):
        return self._call(
            ctxt, 'migration_show', topic=API_TOPIC, version='1.12',
            migration_uuid=migration_uuid)

    def migration_list(self, ctxt, *, ref=clients.UNSET, host=clients.UNSET,
                       status=clients.UNSET, limit=clients.UNSET):
        return self._call(
            ctxt, 'migration_list', topic=API_TOPIC, version='1.12', ref=ref,
            host=host, status=status, limit=limit)
