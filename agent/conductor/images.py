"""The conductor's image endpoint: what hvagent-api knows of the images it
stores (name, owner, visibility, size, sha256); the bytes are files on the
API host. An image is ``queued`` until its upload is complete and
verified, then ``active``."""
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent import rpc
from agent.conductor import endpoint
from agent.db import api_models
from agent.db import models as M
from agent.db import paging
from agent.objects import fields as f

I = api_models.Image
ID = f.UUID()


def _image(row):
    return {k: getattr(row, k) for k in (
        'id', 'name', 'project_id', 'user_id', 'status', 'disk_format',
        'visibility', 'size', 'checksum')} | {
        'created_at': row.created_at.isoformat()}


def _get(s, image_id):
    row = s.get(I, image_id)
    if row is None:
        raise exception.ImageNotFound(image=image_id, reason='no such image')
    return row


class ImageManager(endpoint.Endpoint):
    target = messaging.Target(version='1.4')  # see rpc.ConductorAPI

    @rpc.expects(name=f.String(max_length=255),
                 disk_format=f.Enum(['qcow2', 'raw']),
                 visibility=f.Enum(['private', 'public']))
    def image_create(self, ctxt, name, disk_format, visibility):
        """A queued image of the caller's project."""
        with self._session() as s:
            row = I(id=str(uuidlib.uuid4()), name=name, status='queued',
                    project_id=ctxt.project_id, user_id=ctxt.user_id,
                    disk_format=disk_format, visibility=visibility,
                    created_at=M.utcnow())
            s.add(row)
            s.flush()
            return _image(row)

    @rpc.expects(project_id=f.String(max_length=64, nullable=True),
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

    @rpc.expects(image_id=ID)
    def image_show(self, ctxt, image_id):
        with self._session() as s:
            return _image(_get(s, image_id))

    @rpc.expects(image_id=ID, size=f.Integer(min=0),
                 checksum=f.String(max_length=64))
    def image_activate(self, ctxt, image_id, size, checksum):
        """Record a complete upload; only a queued image takes one."""
        with self._session() as s:
            if s.execute(sa.update(I).where(
                    I.id == image_id, I.status == 'queued').values(
                        status='active', size=size,
                        checksum=checksum)).rowcount != 1:
                _get(s, image_id)
                raise exception.Conflict(what='Image data of %s' % image_id)
            return _image(_get(s, image_id))

    @rpc.expects(image_id=ID)
    def image_delete(self, ctxt, image_id):
        with self._session() as s:
            s.delete(_get(s, image_id))
