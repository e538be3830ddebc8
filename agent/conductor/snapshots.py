"""Snapshots (nova's createImage): an instance's root disk becomes a new
image of the caller's project.

``instance_snapshot`` (users, topic ``conductor_api``) records, in one
transaction, the image (``saving``, naming the instance in
``instance_uuid`` and, as glance's ``kernel_id`` and ``ramdisk_id``, the
API images the instance boots with, so a server booted from the
snapshot boots as this one did), within the project's images quota, and
the instance's ``snapshot`` action (task ``image_snapshot``); then casts
``snapshot_instance`` to the instance's agent.

The agent copies the disk and uploads it to hvagent-api with an upload
grant (agent.security.image_grants) that ``image_upload_grant`` (agents,
topic ``conductor``) issues only to the agent of the instance's host,
only while the instance is being snapshotted, and only for its one
image still saving. The API stores the bytes and activates the image
(images.ImageManager.image_activate, within the image_megabytes quota).

A snapshot that fails, or whose instance is deleted meanwhile, takes its
saving image with it (images.abandon): no image is ever left saving.
"""
import oslo_messaging as messaging

from agent import exception
from agent import image_refs
from agent.conductor import endpoint
from agent.conductor import images
from agent.conductor import lifecycle
from agent.conductor import quota
from agent.db import api as db
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.objects import states
from agent.rpc import checks
from agent.security import bus_auth
from agent.security import image_grants

UUID = f.UUID()


class SnapshotManager(endpoint.Endpoint):
    """Topic ``conductor_api``: a user's snapshot of an instance."""
    target = messaging.Target(version='1.23')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(ref=lifecycle.REF, name=f.String(max_length=255))
    def instance_snapshot(self, ctxt, ref, name):
        """The image the instance's root disk is being saved into (as
        image_show shows it); the agent fills it."""
        lifecycle.check_name(name, 'Image')
        declared = user_actions.BY_NAME['snapshot']
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            lifecycle.check_allowed(row, declared)
            lifecycle.check_hosted(row, 'snapshot')
            quota.check(s, ctxt.project_id, {'images': 1})
            image = images.new_row(
                s, ctxt, name, 'qcow2', 'private', status='saving',
                instance_uuid=row.uuid,
                kernel_id=image_refs.image_id(row.kernel_ref),
                ramdisk_id=image_refs.image_id(row.ramdisk_ref))
            row = db.instance_update(
                s, row.uuid, {'task_state': declared.task_state},
                expected_task_state=[None])
            db.action_start(s, row.uuid, declared.name, ctxt.request_id,
                            ctxt.user_id, ctxt.project_id)
            host, uuid = row.host, row.uuid
        self.compute.snapshot_instance(ctxt, host, uuid)
        return image


class SnapshotAgentManager(endpoint.Endpoint):
    """Topic ``conductor``: the grant an agent uploads a snapshot with."""
    target = messaging.Target(version='1.23')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(instance_uuid=UUID)
    def image_upload_grant(self, ctxt, instance_uuid):
        """{'image_id', 'grant'} for the image the instance's snapshot is
        saving; None when there is none (it was uploaded already, or its
        owner deleted it). Only for an instance on the caller's host
        while it is being snapshotted."""
        with self._session() as s:
            row = db.instance_get(s, instance_uuid)
            if ctxt.host_scope is not None and row.host != ctxt.host_scope:
                raise exception.InstanceNotFound(instance=instance_uuid)
            if row.task_state != states.IMAGE_SNAPSHOT:
                raise exception.UnexpectedTaskState(
                    instance=instance_uuid,
                    expected=states.IMAGE_SNAPSHOT, actual=row.task_state)
            image = images.saving(s, instance_uuid)
            if image is None:
                return None
            return {'image_id': image.id, 'grant': image_grants.issue_upload(
                bus_auth.keyring(), instance_uuid, image.project_id,
                image.id, row.host)}
