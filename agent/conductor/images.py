"""The conductor's image endpoint: what hvagent-api knows of the images it
stores (name, owner, visibility, size, sha256); the bytes are files on the
API host. An image is ``queued`` until its upload is complete and
verified, then ``active``."""
import logging
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent import image_refs
from agent.conductor import endpoint
from agent.conductor import quota
from agent.db import api_models
from agent.db import models as M
from agent.db import paging
from agent.objects import fields as f
from agent.rpc import checks

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
#: the agent event of a snapshot (agent.conductor.snapshots)
SNAPSHOT_EVENT = 'compute_snapshot_instance'
I = api_models.Image  # noqa: E741
ID = f.UUID()
#: the boot options that name an image, and how a refusal names them
BOOT_REFS = (('image_ref', 'Image'), ('kernel_ref', 'Kernel'),
             ('ramdisk_ref', 'Ramdisk'))


def _image(row):
    return {k: getattr(row, k) for k in (
        'id', 'name', 'project_id', 'user_id', 'status', 'disk_format',
        'visibility', 'size', 'checksum', 'kernel_id', 'ramdisk_id',
        'instance_uuid')} | {
        'created_at': row.created_at.isoformat()}


def _get(s, image_id):
    row = s.get(I, image_id)
    if row is None:
        raise exception.ImageNotFound(image=image_id, reason='no such image')
    return row


def visible(row, ctxt):
    """Whether the caller of ``ctxt`` may use image ``row``."""
    return row is not None and (row.visibility == 'public' or ctxt.is_admin
                                or row.project_id == ctxt.project_id)


def resolve(s, ctxt, ref, what='Image'):
    """What a boot records for ``ref`` (image_refs.classify), checked in
    the caller's scope before anything is recorded: an image id must be
    an active image the caller's project sees (another project's private
    image is "not found", like an unknown one); a URL must be allowed by
    ``[compute] image_url_allowlist``; a local path only on the
    operator's own path (not via hvagent-api, no API project)."""
    if ref is None:
        return None
    kind, value = image_refs.classify(
        ref, image_refs.parse_allowlist(CONF.compute.image_url_allowlist),
        local_ok=True, what=what)
    if kind == image_refs.LOCAL and (ctxt.via_api or (
            ctxt.project_id is not None and
            s.get(M.Project, ctxt.project_id) is not None)):
        raise image_refs.refused(ref, what)
    if kind == image_refs.ID:
        row = s.get(I, value)
        if not visible(row, ctxt):
            raise exception.ImageNotFound(image=value,
                                          reason='no such image')
        if row.status != 'active':
            raise exception.Conflict(what='No data for image %s yet: it'
                                     % value)
    return value


def new_row(s, ctxt, name, disk_format, visibility, status='queued',
            **columns):
    """A new image of the caller's project (its quota checked by the
    caller) as image_show shows it; ``columns``: kernel_id, ramdisk_id,
    instance_uuid (a snapshot's)."""
    row = I(id=str(uuidlib.uuid4()), name=name, status=status,
            project_id=ctxt.project_id, user_id=ctxt.user_id,
            disk_format=disk_format, visibility=visibility,
            created_at=M.utcnow(), **columns)
    s.add(row)
    s.flush()
    return _image(row)


def saving(s, instance_uuid):
    """The image the instance's snapshot is saving, or None."""
    return s.scalar(sa.select(I).where(
        I.instance_uuid == instance_uuid, I.status == 'saving').order_by(
            I.created_at.desc()).limit(1))


def abandon(s, instance_uuid):
    """Remove the images the instance's snapshots left saving (a failed
    snapshot's, a deleted instance's); their ids."""
    ids = list(s.scalars(sa.select(I.id).where(
        I.instance_uuid == instance_uuid, I.status == 'saving')))
    if ids:
        s.execute(sa.delete(I).where(I.id.in_(ids)))
        LOG.info('Snapshot images %s of instance %s removed (unfinished)',
                 ', '.join(ids), instance_uuid)
    return ids


class ImageManager(endpoint.Endpoint):
    target = messaging.Target(version='1.23')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(name=f.String(max_length=255),
                 disk_format=f.Enum(['qcow2', 'raw']),
                 visibility=f.Enum(['private', 'public']),
                 kernel_id=f.UUID(nullable=True, default=None),
                 ramdisk_id=f.UUID(nullable=True, default=None))
    def image_create(self, ctxt, name, disk_format, visibility, kernel_id,
                     ramdisk_id):
        """A queued image of the caller's project (images quota);
        ``kernel_id``, ``ramdisk_id`` (1.19): the images it boots with
        (each checked, as any image, when a boot uses it)."""
        with self._session() as s:
            quota.check(s, ctxt.project_id, {'images': 1})
            return new_row(s, ctxt, name, disk_format, visibility,
                           kernel_id=kernel_id, ramdisk_id=ramdisk_id)

    @checks.expects(project_id=f.String(max_length=64, nullable=True),
                 limit=f.Integer(min=1, max=10000, nullable=True),
                 marker=f.UUID(nullable=True))
    def image_list(self, ctxt, project_id, limit, marker):
        """The project's images and the public ones (None: all)."""
        query = sa.select(I)
        if project_id is not None:
            query = query.where(sa.or_(I.project_id == project_id,
                                       I.visibility == 'public'))
        with self._session() as s:
            return [_image(r) for r in paging.page(s, query, I, I.id, I.id,
                                                   limit, marker)]

    @checks.expects(image_id=ID)
    def image_show(self, ctxt, image_id):
        with self._session() as s:
            return _image(_get(s, image_id))

    @checks.expects(image_id=ID, size=f.Integer(min=0),
                 checksum=f.String(max_length=64),
                 instance_uuid=f.UUID(nullable=True, default=None))
    def image_activate(self, ctxt, image_id, size, checksum,
                       instance_uuid=None):
        """Record a complete upload; only a queued image takes one, and
        only within its project's image_megabytes quota (checked under
        the project's quota lock, so two racing uploads cannot both pass).
        ``instance_uuid`` (1.23): the upload of that instance's snapshot,
        which only a saving image of that instance takes.
        """
        match = (I.status == 'queued',) if instance_uuid is None else (
            I.status == 'saving', I.instance_uuid == instance_uuid)
        with self._session() as s:
            quota.check(s, _get(s, image_id).project_id,
                        {'image_megabytes': quota.megabytes(size)})
            if s.execute(sa.update(I).where(
                    I.id == image_id, *match).values(
                        status='active', size=size,
                        checksum=checksum)).rowcount != 1:
                _get(s, image_id)
                raise exception.Conflict(what='Image data of %s' % image_id)
            return _image(_get(s, image_id))

    @checks.expects(image_id=ID)
    def image_delete(self, ctxt, image_id):
        with self._session() as s:
            s.delete(_get(s, image_id))
