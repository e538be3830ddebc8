"""The conductor client's image methods: hvagent-api's image records and a
user's snapshot (topic ``conductor_api``, served by agent.conductor.images
and snapshots), and the grants a compute agent reads or uploads an image
with (topic ``conductor``, served by agent.conductor.agent_calls and
snapshots). agent.conductor.rpcapi joins them into UserMethods and
AgentMethods; their versions are in ConductorAPI's history there."""
from agent.conductor.topics_rpcapi import AGENT_TOPIC
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.rpc import clients


class ImageAgentMethods(clients.Client):
    """Topic ``conductor``: what an agent needs to read an instance's
    images or upload its snapshot."""
    SERVES = AGENT_TOPIC

    def image_grant(self, ctxt, *, instance_uuid):
        return self._call(
            ctxt, 'image_grant', topic=AGENT_TOPIC, version='1.10',
            instance_uuid=instance_uuid)

    def image_upload_grant(self, ctxt, *, instance_uuid):
        return self._call(
            ctxt, 'image_upload_grant', topic=AGENT_TOPIC, version='1.23',
            instance_uuid=instance_uuid)


class ImageMethods(clients.Client):
    """Topic ``conductor_api``: image records and snapshots."""
    SERVES = API_TOPIC

    def image_activate(self, ctxt, *, image_id, size, checksum,
                       instance_uuid=clients.UNSET):
        version = '1.4' if instance_uuid is clients.UNSET else '1.23'
        return self._call(
            ctxt, 'image_activate', topic=API_TOPIC, version=version,
            image_id=image_id, size=size, checksum=checksum,
            instance_uuid=instance_uuid)

    def image_create(self, ctxt, *, name, disk_format, visibility,
                     kernel_id=clients.UNSET, ramdisk_id=clients.UNSET):
        version = '1.4' if kernel_id is clients.UNSET and \
            ramdisk_id is clients.UNSET else '1.19'
        return self._call(
            ctxt, 'image_create', topic=API_TOPIC, version=version, name=name,
            disk_format=disk_format, visibility=visibility,
            kernel_id=kernel_id, ramdisk_id=ramdisk_id)

    def image_delete(self, ctxt, *, image_id):
        return self._call(
            ctxt, 'image_delete', topic=API_TOPIC, version='1.4',
            image_id=image_id)

    def image_list(self, ctxt, *, project_id=clients.UNSET,
                   limit=clients.UNSET, marker=clients.UNSET):
        return self._call(
            ctxt, 'image_list', topic=API_TOPIC, version='1.4',
            project_id=project_id, limit=limit, marker=marker)

    def image_show(self, ctxt, *, image_id):
        return self._call(
            ctxt, 'image_show', topic=API_TOPIC, version='1.4',
            image_id=image_id)

    def instance_snapshot(self, ctxt, *, ref, name):
        return self._call(
            ctxt, 'instance_snapshot', topic=API_TOPIC, version='1.23',
            ref=ref, name=name)
