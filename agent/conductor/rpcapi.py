"""The client of hvagent-conductor's RPC servers: one class per audience
(topic), their methods sent at the version each came in, and
``ConductorAPI`` joining them (see its docstring for the version history).
The servers: agent.conductor.main builds them from the managers named in
each class's docstring; tests/unit/test_rpcapi_pins.py pins every client
method to its endpoint's arguments.
"""
from agent.conductor.console_rpcapi import ConsoleMethods
from agent.conductor.identity_rpcapi import IdentityMethods
from agent.conductor.image_rpcapi import ImageAgentMethods
from agent.conductor.image_rpcapi import ImageMethods
from agent.conductor.interface_rpcapi import InterfaceAgentMethods
from agent.conductor.interface_rpcapi import InterfaceMethods
from agent.conductor.move_rpcapi import MoveAgentMethods
from agent.conductor.move_rpcapi import MoveUserMethods
from agent.conductor.topics_rpcapi import AGENT_TOPIC
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.conductor.topics_rpcapi import IDENTITY_TOPIC  # noqa: F401 (its clients use it from here)
from agent.conductor.topics_rpcapi import REPORT_TOPIC
from agent.conductor.volume_rpcapi import VolumeMethods
from agent.rpc import clients

#: instance_action's actions of version 1.5
ISOLATION_ACTIONS = ('isolate', 'release')
#: instance_action's actions of version 1.22
ACTIONS_1_22 = ('suspend', 'resume', 'unrescue')


class AgentMethods(MoveAgentMethods, ImageAgentMethods,
                   InterfaceAgentMethods):
    """Topic ``conductor``: what compute agents ask (served by
    agent.conductor.agent_calls.AgentManager; their steps of a move:
    MoveAgentMethods; image grants: ImageAgentMethods; detached ports:
    InterfaceAgentMethods)."""
    SERVES = AGENT_TOPIC


    def action_event_finish(self, ctxt, *, instance_uuid, request_id, event,
                            result, traceback=clients.UNSET):
        return self._call(
            ctxt, 'action_event_finish', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, request_id=request_id, event=event,
            result=result, traceback=traceback)

    def action_event_start(self, ctxt, *, instance_uuid, request_id, event,
                           host=clients.UNSET):
        return self._call(
            ctxt, 'action_event_start', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, request_id=request_id, event=event,
            host=host)

    def block_device_update(self, ctxt, *, instance_uuid, volume_id,
                            status=clients.UNSET, device_name=clients.UNSET,
                            destroy=clients.UNSET, extended=clients.UNSET):
        return self._call(
            ctxt, 'block_device_update', topic=AGENT_TOPIC,
            version=None if extended is clients.UNSET else '1.22',
            instance_uuid=instance_uuid, volume_id=volume_id, status=status,
            device_name=device_name, destroy=destroy, extended=extended)

    def compute_node_update(self, ctxt, *, node, periodic=False):
        """A resource report: a call on ``conductor`` (the start-up one,
        whose refusal the agent must see), or with ``periodic`` a cast to
        ``conductor_reports`` (1.16: read in batches, report_queue) where
        [upgrade_levels] conductor allows 1.16."""
        if periodic and self.can_send_version('1.16'):
            return self._cast(
                ctxt, 'compute_node_update', topic=REPORT_TOPIC,
                version='1.16', node=node)
        return self._call(
            ctxt, 'compute_node_update', topic=AGENT_TOPIC, version=None,
            node=node)

    def instance_destroy(self, ctxt, *, instance_uuid):
        return self._call(
            ctxt, 'instance_destroy', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid)

    def instance_fault_create(self, ctxt, *, instance_uuid, message,
                              details=clients.UNSET, host=clients.UNSET):
        return self._call(
            ctxt, 'instance_fault_create', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, message=message, details=details,
            host=host)

    def instance_get(self, ctxt, *, instance_uuid):
        return self._call(
            ctxt, 'instance_get', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid)

    def instance_update(self, ctxt, *, instance_uuid, updates=clients.UNSET,
                        expected_task_state=clients.UNSET):
        return self._call(
            ctxt, 'instance_update', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, updates=updates,
            expected_task_state=expected_task_state)

    def instances_get_by_host(self, ctxt, *, host):
        return self._call(
            ctxt, 'instances_get_by_host', topic=AGENT_TOPIC, version=None,
            host=host)

    def operation_finish(self, ctxt, *, instance_uuid, request_id, event,
                         result, updates=clients.UNSET,
                         expected_task_state=clients.UNSET,
                         fault_message=clients.UNSET, traceback=clients.UNSET,
                         host=clients.UNSET):
        return self._call(
            ctxt, 'operation_finish', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, request_id=request_id, event=event,
            result=result, updates=updates,
            expected_task_state=expected_task_state,
            fault_message=fault_message, traceback=traceback, host=host)

    def operation_start(self, ctxt, *, instance_uuid, host, request_id, event,
                        expected_task_state=clients.UNSET,
                        updates=clients.UNSET):
        return self._call(
            ctxt, 'operation_start', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, host=host, request_id=request_id,
            event=event, expected_task_state=expected_task_state,
            updates=updates)

    def ports_bind(self, ctxt, *, instance_uuid, host):
        return self._call(
            ctxt, 'ports_bind', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, host=host)

    def ports_get_by_host(self, ctxt, *, host):
        return self._call(
            ctxt, 'ports_get_by_host', topic=AGENT_TOPIC, version=None,
            host=host)

    def ports_set_status(self, ctxt, *, instance_uuid, status):
        return self._call(
            ctxt, 'ports_set_status', topic=AGENT_TOPIC, version=None,
            instance_uuid=instance_uuid, status=status)

    def service_heartbeat(self, ctxt, *, service):
        return self._call(
            ctxt, 'service_heartbeat', topic=AGENT_TOPIC, version=None,
            service=service)

class UserMethods(MoveUserMethods, ConsoleMethods, VolumeMethods,
                  ImageMethods, InterfaceMethods):
    """Topic ``conductor_api``: what hvagent-api, hvctl and operators ask
    (served by the managers of agent.conductor.lifecycle, networks, instances,
    keypairs, quota, images, floating_ips, fixed_ips and services;
    the moves: MoveUserMethods; console tokens: ConsoleMethods; volumes:
    VolumeMethods; images and snapshots: ImageMethods; interfaces:
    InterfaceMethods)."""
    SERVES = API_TOPIC


    def action_list(self, ctxt, *, ref):
        return self._call(
            ctxt, 'action_list', topic=API_TOPIC, version=None, ref=ref)

    def boot_instance(self, ctxt, *, name, flavor, image_ref=clients.UNSET,
                      availability_zone=clients.UNSET, hints=clients.UNSET,
                      metadata=clients.UNSET, networks=clients.UNSET,
                      options=clients.UNSET, security_groups=clients.UNSET,
                      fixed_ips=clients.UNSET):
        version = '1.7' if fixed_ips else None
        if not fixed_ips:       # none: a 1.1 conductor's call
            fixed_ips = clients.UNSET
        return self._call(
            ctxt, 'boot_instance', topic=API_TOPIC, version=version, name=name,
            flavor=flavor, image_ref=image_ref,
            availability_zone=availability_zone, hints=hints,
            metadata=metadata, networks=networks, options=options,
            security_groups=security_groups, fixed_ips=fixed_ips)

    def console_output(self, ctxt, *, ref, length=clients.UNSET):
        return self._call(
            ctxt, 'console_output', topic=API_TOPIC, version=None, ref=ref,
            length=length)

    def fixed_ip_create(self, ctxt, *, network, address=clients.UNSET):
        return self._call(
            ctxt, 'fixed_ip_create', topic=API_TOPIC, version='1.7',
            network=network, address=address)

    def fixed_ip_delete(self, ctxt, *, ref):
        return self._call(
            ctxt, 'fixed_ip_delete', topic=API_TOPIC, version='1.7', ref=ref)

    def fixed_ip_list(self, ctxt, *, project_id=clients.UNSET):
        return self._call(
            ctxt, 'fixed_ip_list', topic=API_TOPIC, version='1.7',
            project_id=project_id)

    def fixed_ip_show(self, ctxt, *, ref):
        return self._call(
            ctxt, 'fixed_ip_show', topic=API_TOPIC, version='1.7', ref=ref)

    def flavor_list(self, ctxt):
        return self._call(
            ctxt, 'flavor_list', topic=API_TOPIC, version=None)

    def floating_ip_associate(self, ctxt, *, ref, instance_uuid,
                              port=clients.UNSET):
        return self._call(
            ctxt, 'floating_ip_associate', topic=API_TOPIC, version='1.6',
            ref=ref, instance_uuid=instance_uuid, port=port)

    def floating_ip_create(self, ctxt, *, network=clients.UNSET):
        return self._call(
            ctxt, 'floating_ip_create', topic=API_TOPIC, version='1.6',
            network=network)

    def floating_ip_delete(self, ctxt, *, ref):
        return self._call(
            ctxt, 'floating_ip_delete', topic=API_TOPIC, version='1.6',
            ref=ref)

    def floating_ip_disassociate(self, ctxt, *, ref):
        return self._call(
            ctxt, 'floating_ip_disassociate', topic=API_TOPIC, version='1.6',
            ref=ref)

    def floating_ip_list(self, ctxt, *, project_id=clients.UNSET):
        return self._call(
            ctxt, 'floating_ip_list', topic=API_TOPIC, version='1.6',
            project_id=project_id)

    def floating_ip_show(self, ctxt, *, ref):
        return self._call(
            ctxt, 'floating_ip_show', topic=API_TOPIC, version='1.6', ref=ref)

    def host_list(self, ctxt):
        return self._call(
            ctxt, 'host_list', topic=API_TOPIC, version=None)

    def instance_action(self, ctxt, *, ref, action, volume_id=clients.UNSET,
                        connection_info=clients.UNSET):
        version = ('1.22' if action in ACTIONS_1_22 else
                   '1.5' if action in ISOLATION_ACTIONS else None)
        return self._call(
            ctxt, 'instance_action', topic=API_TOPIC, version=version, ref=ref,
            action=action, volume_id=volume_id,
            connection_info=connection_info)

    def instance_rebuild(self, ctxt, *, ref, image_ref,
                         kernel_ref=clients.UNSET, ramdisk_ref=clients.UNSET):
        return self._call(
            ctxt, 'instance_rebuild', topic=API_TOPIC, version='1.22',
            ref=ref, image_ref=image_ref, kernel_ref=kernel_ref,
            ramdisk_ref=ramdisk_ref)

    def instance_rescue(self, ctxt, *, ref, image_ref=None,
                        kernel_ref=clients.UNSET, ramdisk_ref=clients.UNSET):
        return self._call(
            ctxt, 'instance_rescue', topic=API_TOPIC, version='1.22',
            ref=ref, image_ref=image_ref, kernel_ref=kernel_ref,
            ramdisk_ref=ramdisk_ref)

    def instance_list(self, ctxt, *, host=clients.UNSET,
                      project_id=clients.UNSET):
        return self._call(
            ctxt, 'instance_list', topic=API_TOPIC, version=None, host=host,
            project_id=project_id)

    def instance_page(self, ctxt, *, project_id=clients.UNSET,
                      user_id=clients.UNSET, limit=clients.UNSET,
                      marker=clients.UNSET):
        return self._call(
            ctxt, 'instance_page', topic=API_TOPIC, version='1.2',
            project_id=project_id, user_id=user_id, limit=limit, marker=marker)

    def instance_show(self, ctxt, *, ref):
        return self._call(
            ctxt, 'instance_show', topic=API_TOPIC, version=None, ref=ref)

    def instance_wait(self, ctxt, *, ref, timeout, seen=clients.UNSET,
                      until=clients.UNSET):
        version = '1.3' if until else None
        return self._call(
            ctxt, 'instance_wait', topic=API_TOPIC, version=version, ref=ref,
            seen=seen, timeout=timeout, until=until)

    def keypair_create(self, ctxt, *, user_id, name, public_key, fingerprint):
        return self._call(
            ctxt, 'keypair_create', topic=API_TOPIC, version='1.2',
            user_id=user_id, name=name, public_key=public_key,
            fingerprint=fingerprint)

    def keypair_delete(self, ctxt, *, user_id, name):
        return self._call(
            ctxt, 'keypair_delete', topic=API_TOPIC, version='1.2',
            user_id=user_id, name=name)

    def keypair_list(self, ctxt, *, user_id):
        return self._call(
            ctxt, 'keypair_list', topic=API_TOPIC, version='1.2',
            user_id=user_id)

    def keypair_show(self, ctxt, *, user_id, name):
        return self._call(
            ctxt, 'keypair_show', topic=API_TOPIC, version='1.2',
            user_id=user_id, name=name)

    def metadata_set(self, ctxt, *, instance_uuid, key, value=clients.UNSET):
        return self._call(
            ctxt, 'metadata_set', topic=API_TOPIC, version='1.2',
            instance_uuid=instance_uuid, key=key, value=value)

    def network_create(self, ctxt, *, name, network_type, cidr=None,
                       segmentation_id=clients.UNSET,
                       physical_network=clients.UNSET,
                       gateway_ip=clients.UNSET, dns_nameservers=clients.UNSET,
                       allocation_pools=clients.UNSET, mtu=clients.UNSET,
                       external=clients.UNSET, subnet_name=clients.UNSET):
        version = '1.18' if cidr is None or subnet_name is not clients.UNSET \
            else '1.6' if external else None
        return self._call(
            ctxt, 'network_create', topic=API_TOPIC, version=version,
            name=name, network_type=network_type, cidr=cidr,
            segmentation_id=segmentation_id, physical_network=physical_network,
            gateway_ip=gateway_ip, dns_nameservers=dns_nameservers,
            allocation_pools=allocation_pools, mtu=mtu, external=external,
            subnet_name=subnet_name)

    def network_delete(self, ctxt, *, ref):
        return self._call(
            ctxt, 'network_delete', topic=API_TOPIC, version=None, ref=ref)

    def network_list(self, ctxt):
        return self._call(
            ctxt, 'network_list', topic=API_TOPIC, version=None)

    def network_set(self, ctxt, *, ref, shared):
        return self._call(
            ctxt, 'network_set', topic=API_TOPIC, version='1.9', ref=ref,
            shared=shared)

    def port_list(self, ctxt, *, network=clients.UNSET,
                  instance_uuid=clients.UNSET):
        return self._call(
            ctxt, 'port_list', topic=API_TOPIC, version=None, network=network,
            instance_uuid=instance_uuid)

    def port_update(self, ctxt, *, ref, port_security_enabled):
        return self._call(
            ctxt, 'port_update', topic=API_TOPIC, version='1.9', ref=ref,
            port_security_enabled=port_security_enabled)

    def quota_set(self, ctxt, *, project_id, limits=clients.UNSET):
        return self._call(
            ctxt, 'quota_set', topic=API_TOPIC, version='1.2',
            project_id=project_id, limits=limits)

    def quota_show(self, ctxt, *, project_id):
        return self._call(
            ctxt, 'quota_show', topic=API_TOPIC, version='1.2',
            project_id=project_id)

    def subnet_create(self, ctxt, *, network, cidr, name=clients.UNSET,
                      gateway_ip=clients.UNSET, dns_nameservers=clients.UNSET,
                      allocation_pools=clients.UNSET):
        return self._call(
            ctxt, 'subnet_create', topic=API_TOPIC, version='1.18',
            network=network, name=name, cidr=cidr, gateway_ip=gateway_ip,
            dns_nameservers=dns_nameservers,
            allocation_pools=allocation_pools)

    def subnet_delete(self, ctxt, *, network):
        return self._call(
            ctxt, 'subnet_delete', topic=API_TOPIC, version='1.18',
            network=network)

    def secgroup_create(self, ctxt, *, name, description=clients.UNSET):
        return self._call(
            ctxt, 'secgroup_create', topic=API_TOPIC, version=None, name=name,
            description=description)

    def secgroup_delete(self, ctxt, *, group):
        return self._call(
            ctxt, 'secgroup_delete', topic=API_TOPIC, version='1.9',
            group=group)

    def secgroup_list(self, ctxt, *, all_projects=clients.UNSET):
        version = '1.9' if all_projects else None
        return self._call(
            ctxt, 'secgroup_list', topic=API_TOPIC, version=version,
            all_projects=all_projects)

    def secgroup_rule_add(self, ctxt, *, group, direction,
                          protocol=clients.UNSET, port_range_min=clients.UNSET,
                          port_range_max=clients.UNSET,
                          remote_ip_prefix=clients.UNSET,
                          remote_group=clients.UNSET):
        return self._call(
            ctxt, 'secgroup_rule_add', topic=API_TOPIC, version=None,
            group=group, direction=direction, protocol=protocol,
            port_range_min=port_range_min, port_range_max=port_range_max,
            remote_ip_prefix=remote_ip_prefix, remote_group=remote_group)

    def secgroup_rule_delete(self, ctxt, *, rule):
        return self._call(
            ctxt, 'secgroup_rule_delete', topic=API_TOPIC, version='1.9',
            rule=rule)

    def server_secgroup_add(self, ctxt, *, instance_uuid, group):
        return self._call(
            ctxt, 'server_secgroup_add', topic=API_TOPIC, version='1.9',
            instance_uuid=instance_uuid, group=group)

    def server_secgroup_remove(self, ctxt, *, instance_uuid, group):
        return self._call(
            ctxt, 'server_secgroup_remove', topic=API_TOPIC, version='1.9',
            instance_uuid=instance_uuid, group=group)

    def service_update(self, ctxt, *, host, binary, disabled,
                       disabled_reason=clients.UNSET):
        return self._call(
            ctxt, 'service_update', topic=API_TOPIC, version='1.11',
            host=host, binary=binary, disabled=disabled,
            disabled_reason=disabled_reason)


class ConductorAPI(AgentMethods, UserMethods, IdentityMethods):
    """Client side of the conductor, whose methods are all calls, served
    on three topics by audience (each its own queue, reachable only by
    the broker users that need it, and each server acting only for the
    principals it admits, see bus_auth):

    * ``conductor``: what compute agents need (AgentMethods), admitted
      for controllers and compute nodes; a compute node only for the
      instances and ports of its own host;
    * ``conductor_api``: what hvagent-api, hvctl and the operators ask
      (boot, lifecycle, listings, networks, images...; UserMethods),
      controllers only;
    * ``identity``: projects, users, roles, tokens (IdentityMethods),
      controllers only.

    Each method is sent at the oldest version that has what it uses
    (below), so a newer client talks to an older conductor as long as it
    uses nothing newer; ``[upgrade_levels] conductor`` refuses, with a
    clear error, what an older conductor could not serve.

    Version history:
      1.0 - agent side: instance_get, instances_get_by_host, instance_update,
            instance_destroy, instance_fault_create, action_event_start,
            action_event_finish, block_device_update, compute_node_update,
            service_heartbeat;
            user side: boot_instance, instance_list, instance_show,
            instance_action, console_output, flavor_list, host_list,
            action_list
      1.1 - agent side: operation_start, operation_finish (an operation's
            checks, state changes, fault and event in two calls, not five);
            user side: instance_wait (a long poll on an instance's states);
            networking: network_create/list/delete, port_list,
            secgroup_create/rule_add/list (users), ports_bind,
            ports_get_by_host, ports_set_status (agents); boot_instance
            takes security_groups
      1.2 - for hvagent-api (sent at 1.2, the older methods still at 1.1):
            identity: project_create/show/list, user_create/list,
            role_assign, auth_info, token_check, token_revoke, bootstrap;
            instance_page (project/user scoped, limit + marker),
            metadata_set; keypair_create/list/show/delete;
            quota_show/quota_set; boot_instance and secgroup_create check
            the project's quota (QuotaExceeded)
      1.3 - instance_wait takes ``until`` (vm_states): it returns once the
            instance settles in one of them, not at every state on the way
            (sent at 1.3 only with ``until``)
      1.4 - for hvagent-api (sent at 1.4): image_create/list/show/
            activate/delete; volume_create/list/show/delete
      1.5 - instance_action's actions ``isolate`` and ``release`` (itsec's
            quarantine; sent at 1.5 only for those)
      1.6 - floating IPs (sent at 1.6): floating_ip_create/list/show/
            associate/disassociate/delete; network_create takes
            ``external`` (sent at 1.6 only when true)
      1.7 - fixed IP reservations (sent at 1.7): fixed_ip_create/list/show/
            delete; boot_instance takes ``fixed_ips`` (reserved ports to
            boot on; sent at 1.7 only when given)
      (topics) - the same methods and versions, split over the topics
            ``conductor``, ``conductor_api`` and ``identity`` by audience,
            every message signed (bus_auth). Controllers must be upgraded
            together: an older hvagent-api sends user methods to
            ``conductor``, where they are now unknown; compute agents keep
            sending to ``conductor``.
      1.8 - accounts, on ``identity`` (sent at 1.8): authenticate (the
            conductor checks the password; auth_info, which answered the
            hash, is gone), password_change, user_update; user_create and
            bootstrap take ``password`` (hashed by the conductor),
            token_check takes ``issued_at`` (sent at 1.8 with those)
      1.9 - tenant isolation on the network (sent at 1.9): secgroup_delete,
            secgroup_rule_delete, server_secgroup_add/remove, network_set
            (share; admins), port_update (port security; admins);
            secgroup_list takes ``all_projects`` (sent at 1.9 only when
            true)
      1.10 - agent side: image_grant (a short-lived grant to read one
            instance's images from hvagent-api; no user's token travels
            on the bus any more)
      1.11 - service_update (sent at 1.11): an admin disables a compute
            host's service, with a reason, or enables it (the reason
            cleared); the scheduler places nothing new on a disabled
            host. Service 1.1 carries the row's id and updated_at
      1.12 - moving instances (sent at 1.12): live_migrate, evacuate,
            migration_abort, migration_force_complete, migration_show,
            migration_list (admins); agent side: migration_step_start,
            live_migration_prepared, migration_progress,
            live_migration_completed, live_migration_finished,
            live_migration_failed, evacuation_done, migration_cleaned,
            migrations_by_host,
            migration_ports; ports_get_by_host answers the ports of
            instances migrating to the host too, and image_grant grants
            their destination
      1.13 - resize and cold migration (sent at 1.13): resize,
            resize_confirm, resize_revert (the instance's project), migrate
            (admins); agent side: resize_migrated, resize_finished,
            resize_reverted, resize_failed; migration_step_start and
            migration_cleaned take the resize steps' events; Migration 1.1
      1.14 - resize_migrated takes ``address``: where the destination's
            hypervisor reads the source's disk (sent at 1.14 when given;
            Migration 1.2 source_address)
      1.15 - the conductor announces every committed instance change on
            the fanout topic ``instance_changes`` (changes_rpcapi); hvctl
            and the all-in-one wait for those notices, not in instance_wait
            long polls, unless [upgrade_levels] conductor caps them below
            1.15
      1.16 - compute agents cast their periodic compute_node_update to
            ``conductor_reports`` (sent at 1.16; below, a call on
            ``conductor``), where agent.conductor.report_queue reads them
            in batches; the start-up report stays a call
      1.17 - identity for keystone's shapes (sent at 1.17): user_list of
            every user (project_id None), user_show (a user by id or name
            with its role assignments), user_create without a role
            (role None)
      1.18 - Network v2's two steps (sent at 1.18): network_create without
            a cidr (no subnet yet; subnet_name names one made with it),
            subnet_create and subnet_delete of a network's one subnet
      1.19 - image_create takes kernel_id and ramdisk_id (glance's
            properties; sent at 1.19 only with them)
      1.20 - user_create without a project (project_id None, no role:
            keystone v3's user of no project; sent at 1.20 only then);
            authenticate by ``user_id`` instead of ``user`` (the name;
            sent at 1.20 only with user_id); user_delete and
            project_delete (sent at 1.20)
      1.21 - console tokens (sent at 1.21; console_rpcapi):
            console_token_create (for hvagent-api) and console_token_check
            (for hvagent-console-proxy)
      1.22 - instance_action's suspend and resume (sent at 1.22 for them);
            volume_extend (sent at 1.22; volume_rpcapi), which extends an
            attached volume as the instance's extend_volume action;
            instance_rebuild (sent at 1.22): a fresh root disk from an
            image for the same instance; instance_rescue (sent at 1.22)
            and instance_action's unrescue (sent at 1.22 for it); block_device_update's
            ``extended`` (sent at 1.22 only with it): the agent grew the
            volume to the size its mapping records
      1.23 - snapshots (image_rpcapi): instance_snapshot (sent at 1.23),
            an instance's root disk into a new image; image_upload_grant
            (agent side, sent at 1.23): the grant to upload it;
            image_activate's ``instance_uuid`` (sent at 1.23 only with
            it): the upload of a snapshot, saving; interface_attach and
            interface_detach (sent at 1.23; interface_rpcapi): a port
            plugged into a running instance and taken out;
            interfaces_detached (agent side, sent at 1.23): the ports
            taken out deleted
    """
    TOPIC = AGENT_TOPIC
    VERSION = '1.1'
    SERVICE = 'conductor'


#: every conductor method and the topic that serves it
TOPIC_OF = {name: cls.SERVES
            for cls in (AgentMethods, UserMethods, IdentityMethods)
            for name in clients.methods(cls)}
