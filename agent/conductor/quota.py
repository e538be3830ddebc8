"""Per-project quotas, checked in the transaction that takes the resource.

Atomic on SQLite, MariaDB and PostgreSQL alike: the check's first
statement *writes* the project's row (``UPDATE projects SET updated_at``),
which takes the row lock on MariaDB/PostgreSQL and SQLite's database write
lock, so the checks of one project run one after another; the usage is
counted after the lock (READ COMMITTED on the servers, a transaction begun
by that UPDATE on SQLite), so each sees every earlier boot committed, and
the new instance row is written before the lock is released.

Only projects in the identity tables (made through hvagent-api) have
quotas: the operator's direct-RPC path (hvctl without an endpoint, the
all-in-one) acts for projects that do not exist there and is unlimited.
"""
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent.conductor import endpoint
from agent.db import api_models
from agent.db import models
from agent.db import net_models
from agent.objects import fields as f
from agent.rpc import checks

CONF = cfg.CONF
RESOURCES = ('instances', 'cores', 'ram', 'fixed_ips', 'floating_ips',
             'security_groups', 'volumes', 'images', 'image_megabytes')
MiB = 1 << 20
PROJECT = f.String(max_length=64)


def limits(s, project_id):
    found = dict(s.execute(sa.select(
        api_models.Quota.resource, api_models.Quota.hard_limit).where(
            api_models.Quota.project_id == project_id)).all())
    return {r: found.get(r, getattr(CONF.quota, r)) for r in RESOURCES}


def usage(s, project_id):
    I = models.Instance  # noqa: E741
    count, cores, ram, fixed = s.execute(sa.select(
        sa.func.count(I.id), *(sa.func.coalesce(sa.func.sum(column), 0)
                               for column in (I.vcpus, I.memory_mb,
                                              I.fixed_ips))).where(
            I.project_id == project_id, I.deleted == 0)).one()
    # a reservation counts once, lent to an instance or not (the
    # instance's fixed_ips counts only the ports made for it)
    reserved = s.scalar(sa.select(sa.func.count(net_models.Port.id)).where(
        net_models.Port.reserved.is_(True),
        net_models.Port.project_id == project_id))
    floating = s.scalar(sa.select(sa.func.count(net_models.FloatingIP.id))
                        .where(net_models.FloatingIP.project_id ==
                               project_id))
    groups = s.scalar(sa.select(sa.func.count(net_models.SecurityGroup.id))
                      .where(net_models.SecurityGroup.project_id ==
                             project_id))
    volumes = s.scalar(sa.select(sa.func.count(api_models.Volume.id)).where(
        api_models.Volume.project_id == project_id))
    # images: every one made (queued or active); megabytes: the uploaded
    # bytes (active images), rounded up
    Im = api_models.Image
    images, image_bytes = s.execute(sa.select(
        sa.func.count(Im.id), sa.func.coalesce(sa.func.sum(Im.size), 0))
        .where(Im.project_id == project_id)).one()
    return {'instances': count, 'cores': int(cores), 'ram': int(ram),
            'fixed_ips': int(fixed) + reserved, 'floating_ips': floating,
            'security_groups': groups, 'volumes': volumes,
            'images': images, 'image_megabytes': megabytes(image_bytes)}


def megabytes(size):
    return -(-int(size) // MiB)


def lock(s, project_id):
    """Take the project's quota lock; False if it is no API project."""
    return s.execute(sa.update(models.Project).where(
        models.Project.id == project_id).values(
            updated_at=models.utcnow())).rowcount == 1


def check(s, project_id, deltas):
    """Raise QuotaExceeded unless ``deltas`` ({resource: amount}) fit; the
    caller writes the resource in the same transaction."""
    if not lock(s, project_id):
        return
    limit, in_use = limits(s, project_id), usage(s, project_id)
    for resource, amount in deltas.items():
        if 0 <= limit[resource] < in_use[resource] + amount:
            raise exception.QuotaExceeded(
                resource=resource, requested=amount,
                in_use=in_use[resource], limit=limit[resource])


def check_boot(s, project_id, flavor, fixed_ips=0):
    check(s, project_id, {'instances': 1, 'cores': flavor.vcpus,
                          'ram': flavor.memory_mb, 'fixed_ips': fixed_ips})


class QuotaManager(endpoint.Endpoint):
    @checks.expects(project_id=PROJECT)
    def quota_show(self, ctxt, project_id):
        with self._session() as s:
            limit, in_use = limits(s, project_id), usage(s, project_id)
            return {r: {'limit': limit[r], 'in_use': in_use[r]}
                    for r in RESOURCES}

    @checks.expects(project_id=PROJECT, limits=f.Struct(
        {r: f.Integer(min=-1, nullable=True) for r in RESOURCES}))
    def quota_set(self, ctxt, project_id, limits):
        Q = api_models.Quota
        with self._session() as s:
            if s.get(models.Project, project_id) is None:
                raise exception.ProjectNotFound(project=project_id)
            for resource, value in limits.items():
                if value is None:
                    continue
                row = s.scalar(sa.select(Q).where(
                    Q.project_id == project_id, Q.resource == resource))
                if row is None:
                    s.add(Q(project_id=project_id, resource=resource,
                            hard_limit=value))
                else:
                    row.hard_limit = value
        return self.quota_show(ctxt, project_id=project_id)
