"""The conductor's instance reads and metadata writes for hvagent-api:
a paginated list scoped to a project (and user), metadata key/value."""
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.db import api as db
from agent.db import models as M
from agent.db import paging
from agent.db import to_objects
from agent.objects import fields as f
from agent.rpc import checks

KEY = f.String(max_length=255)
OPTIONAL_ID = f.String(max_length=64, nullable=True)


class InstanceManager(endpoint.Endpoint):
    @checks.expects(project_id=OPTIONAL_ID, user_id=OPTIONAL_ID,
                 limit=f.Integer(min=1, max=10000, nullable=True),
                 marker=f.UUID(nullable=True))
    def instance_page(self, ctxt, project_id, user_id, limit, marker):
        """Live instances, oldest first, of a project (None: all) and a
        user (None: all), ``limit`` after the instance ``marker``."""
        query = sa.select(M.Instance).where(M.Instance.deleted == 0)
        if project_id is not None:
            query = query.where(M.Instance.project_id == project_id)
        if user_id is not None:
            query = query.where(M.Instance.user_id == user_id)
        with self._session() as s:
            rows = paging.page(s, query, M.Instance, M.Instance.uuid,
                               M.Instance.id, limit, marker)
            return to_objects.add_addresses(s, to_objects.instances(s, rows))

    @checks.expects(instance_uuid=f.UUID(), key=KEY,
                 value=f.String(max_length=255, nullable=True))
    def metadata_set(self, ctxt, instance_uuid, key, value):
        """Set ``key`` (None: delete it); return the whole metadata."""
        MD = M.InstanceMetadata
        with self._session() as s:
            row = db.instance_get(s, instance_uuid, for_update=True)
            if row.deleted:
                raise exception.InstanceNotFound(instance=instance_uuid)
            item = s.scalar(sa.select(MD).where(
                MD.instance_uuid == row.uuid, MD.key == key))
            if value is None and item is not None:
                s.delete(item)
            elif value is not None and item is None:
                s.add(MD(instance_uuid=row.uuid, key=key, value=value))
            elif value is not None:
                item.value = value
            s.flush()
            return db.metadata_get(s, [row.uuid])[row.uuid]
