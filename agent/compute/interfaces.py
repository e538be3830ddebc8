"""The compute manager's interface attach and detach (nova's
os-interface): the running guest's NICs made those of the instance's
ports, after the conductor added a port (attach) or took one from the
instance (detach; agent.conductor.interfaces).

Attach wires the instance's ports here (the new one too: its bridge,
DHCP host entry and filter), then plugs into the guest each NIC it lacks
(the guest sees a new NIC and asks for a lease). Detach takes out of the
guest each NIC whose port is no longer the instance's, unwires the
detached ports and has the conductor delete them (their addresses free
only then). Both compare what is with what should be, so a restarted
agent runs either again (recovery: tasks ``attaching_interface``,
``detaching_interface``).
"""
import logging

from agent import exception
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.rpc import checks

LOG = logging.getLogger(__name__)
UUID = f.UUID()


class InterfaceMixin:
    """Mixed into ComputeManager (uses its driver, networking, conductor,
    host, _run and _plug)."""

    @checks.expects(instance_uuid=UUID)
    def attach_interface(self, ctxt, instance_uuid):
        def attach(ctxt, instance):
            self._networking_here()
            nics = self._plug(ctxt, instance)
            added = self.driver.attach_interfaces(instance.uuid, nics)
            self.networking.activate(ctxt, instance.uuid, nics)
            LOG.info('Instance %s: NIC(s) %s plugged', instance.uuid,
                     ', '.join(added) or 'none (all there)')
            return {}
        self._run(ctxt, instance_uuid, 'attach_interface',
                  user_actions.task_states_of('attach_interface'), attach,
                  capability='supports_interface_attach')

    @checks.expects(instance_uuid=UUID)
    def detach_interface(self, ctxt, instance_uuid):
        def detach(ctxt, instance):
            self._networking_here()
            keep = [p.mac_address for p in self.networking.ports_of(
                ctxt, instance.uuid)]
            removed = self.driver.detach_interfaces(instance.uuid, keep)
            self.networking.unplug_detached(ctxt)
            self.conductor.interfaces_detached(ctxt, host=self.host)
            LOG.info('Instance %s: NIC(s) %s taken out', instance.uuid,
                     ', '.join(removed) or 'none (all gone)')
            return {}
        self._run(ctxt, instance_uuid, 'detach_interface',
                  user_actions.task_states_of('detach_interface'), detach,
                  capability='supports_interface_attach')

    def _networking_here(self):
        if self.networking is None:
            raise exception.HVAgentError(
                'this host has no networking: NICs cannot be plugged')
