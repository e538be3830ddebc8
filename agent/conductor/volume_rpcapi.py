"""The conductor client's volume methods (topic ``conductor_api``; served
by agent.conductor.volumes). agent.conductor.rpcapi joins them into
ConductorAPI; their versions are in ConductorAPI's history there."""
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.rpc import clients


class VolumeMethods(clients.Client):
    """Block Storage's records: hvagent-api makes and removes the files."""
    SERVES = API_TOPIC

    def volume_create(self, ctxt, *, volume_id, name, size_gb, path):
        return self._call(
            ctxt, 'volume_create', topic=API_TOPIC, version='1.4',
            volume_id=volume_id, name=name, size_gb=size_gb, path=path)

    def volume_delete(self, ctxt, *, volume_id):
        return self._call(
            ctxt, 'volume_delete', topic=API_TOPIC, version='1.4',
            volume_id=volume_id)

    def volume_list(self, ctxt, *, project_id=clients.UNSET,
                    limit=clients.UNSET, marker=clients.UNSET):
        return self._call(
            ctxt, 'volume_list', topic=API_TOPIC, version='1.4',
            project_id=project_id, limit=limit, marker=marker)

    def volume_show(self, ctxt, *, volume_id):
        return self._call(
            ctxt, 'volume_show', topic=API_TOPIC, version='1.4',
            volume_id=volume_id)

    def volume_extend(self, ctxt, *, volume_id, new_size_gb):
        return self._call(
            ctxt, 'volume_extend', topic=API_TOPIC, version='1.22',
            volume_id=volume_id, new_size_gb=new_size_gb)
