"""SQLAlchemy models of networking: networks, subnets, ports (IPAM) and
security groups. Change them only together with a new migration.

IPAM relies on two unique constraints: an IP once per network and a MAC
once overall, so two conductors allocating at the same moment cannot hand
out the same address: the second INSERT fails and picks the next one.
Floating IPs do the same (an address once per external network), and a
port carries at most one. A reserved port is a project's fixed IP held
without an instance (or lent to one).
"""
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.db.base import Base
from agent.db.base import TimestampMixin


class Network(TimestampMixin, Base):
    __tablename__ = 'networks'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    network_type: Mapped[str] = mapped_column(String(16))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)
    physical_network: Mapped[str | None] = mapped_column(String(64))
    mtu: Mapped[int | None] = mapped_column(Integer)
    #: an external network holds floating IPs, never ports
    external: Mapped[bool] = mapped_column(Boolean, default=False,
                                           server_default=false())
    #: every project may use it (set by an admin); else only project_id
    shared: Mapped[bool] = mapped_column(Boolean, default=False,
                                         server_default=false())
    subnets: Mapped[list['Subnet']] = relationship(
        back_populates='network', lazy='selectin', order_by='Subnet.id')


class Subnet(TimestampMixin, Base):
    __tablename__ = 'subnets'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    network_id: Mapped[int] = mapped_column(ForeignKey('networks.id'))
    name: Mapped[str | None] = mapped_column(String(255))
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    #: JSON lists: ["10.0.0.10"], [["10.0.0.10", "10.0.0.200"]]
    dns_nameservers: Mapped[str | None] = mapped_column(Text)
    allocation_pools: Mapped[str | None] = mapped_column(Text)
    network: Mapped[Network] = relationship(back_populates='subnets')


class Port(TimestampMixin, Base):
    __tablename__ = 'ports'
    __table_args__ = (
        UniqueConstraint('network_id', 'ip_address',
                         name='uniq_ports0network_id0ip_address'),
        UniqueConstraint('mac_address', name='uniq_ports0mac_address'),
        Index('ports_instance_uuid_idx', 'instance_uuid'),
        Index('ports_project_id_idx', 'project_id'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    network_id: Mapped[int] = mapped_column(ForeignKey('networks.id'))
    subnet_id: Mapped[int] = mapped_column(ForeignKey('subnets.id'))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    mac_address: Mapped[str] = mapped_column(String(17))
    ip_address: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default='DOWN')
    host: Mapped[str | None] = mapped_column(String(255))
    #: a reservation: the project keeps the port (and its address) when
    #: its instance goes, and a boot of the project may take it
    reserved: Mapped[bool] = mapped_column(Boolean, default=False,
                                           server_default=false())
    project_id: Mapped[str | None] = mapped_column(String(64))
    #: anti-spoofing and security groups; only an admin turns it off
    port_security_enabled: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true())
    network: Mapped[Network] = relationship(lazy='joined')


class FloatingIP(TimestampMixin, Base):
    __tablename__ = 'floating_ips'
    __table_args__ = (
        UniqueConstraint('network_id', 'address',
                         name='uniq_floating_ips0network_id0address'),
        UniqueConstraint('port_id', name='uniq_floating_ips0port_id'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    network_id: Mapped[int] = mapped_column(ForeignKey('networks.id'))
    address: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    port_id: Mapped[int | None] = mapped_column(ForeignKey('ports.id'))
    network: Mapped[Network] = relationship(lazy='joined')
    port: Mapped[Port | None] = relationship(lazy='joined')


class SecurityGroup(TimestampMixin, Base):
    __tablename__ = 'security_groups'
    __table_args__ = (UniqueConstraint('project_id', 'name',
                                       name='uniq_security_groups0name'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255))
    rules: Mapped[list['SecurityGroupRule']] = relationship(
        lazy='selectin', order_by='SecurityGroupRule.id',
        foreign_keys='SecurityGroupRule.security_group_id')


class SecurityGroupRule(Base):
    __tablename__ = 'security_group_rules'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    security_group_id: Mapped[int] = mapped_column(
        ForeignKey('security_groups.id'))
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8), default='IPv4')
    protocol: Mapped[str | None] = mapped_column(String(16))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    remote_group_id: Mapped[int | None] = mapped_column(
        ForeignKey('security_groups.id'))


class PortSecurityGroup(Base):
    __tablename__ = 'port_security_groups'
    port_id: Mapped[int] = mapped_column(ForeignKey('ports.id'),
                                         primary_key=True)
    security_group_id: Mapped[int] = mapped_column(
        ForeignKey('security_groups.id'), primary_key=True)
