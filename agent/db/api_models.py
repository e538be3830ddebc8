"""Tables of the REST API's concerns the conductor keeps: per-project quota
limits, revoked tokens, console tokens, images, volumes (projects, users,
roles and key pairs are in models.py). Change them only together with a
new migration."""
import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.db.base import Base


class Quota(Base):
    """A project's limit for one resource; no row: the [quota] default."""
    __tablename__ = 'quotas'
    __table_args__ = (UniqueConstraint('project_id', 'resource',
                                       name='uniq_quotas0project0resource'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))
    hard_limit: Mapped[int] = mapped_column(Integer)


class RevokedToken(Base):
    """A token revoked before it expired; purged once it has expired."""
    __tablename__ = 'revoked_tokens'
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime,
                                                          index=True)


class Image(Base):
    """An image uploaded through hvagent-api; its bytes are a file in
    ``[api] image_dir`` on the API host, named by the id."""
    __tablename__ = 'images'
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    # queued (for its bytes), saving (a snapshot's, which only the
    # instance's agent may upload), active
    status: Mapped[str] = mapped_column(String(16))
    disk_format: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16))
    size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    #: the kernel and ramdisk images it boots with (glance's properties)
    kernel_id: Mapped[str | None] = mapped_column(String(36))
    ramdisk_id: Mapped[str | None] = mapped_column(String(36))
    #: a snapshot: the instance whose root disk it is (glance's property)
    instance_uuid: Mapped[str | None] = mapped_column(String(36),
                                                      index=True)


class Volume(Base):
    """A file-backed volume made through hvagent-api in ``[api]
    volume_dir``; attached while a block device mapping names it."""
    __tablename__ = 'volumes'
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    size_gb: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class ConsoleToken(Base):
    """A console token the conductor handed out (nova's console_auth_tokens):
    only its SHA-256 is kept; it opens one session of the ``protocol``
    console of one instance, at the address its host reported, once,
    before ``expires_at``."""
    __tablename__ = 'console_tokens'
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime,
                                                          index=True)
