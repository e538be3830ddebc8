"""The conductor client's interface methods: a user's attach and detach
(topic ``conductor_api``, served by agent.conductor.interfaces) and an
agent's end of a detach (topic ``conductor``). agent.conductor.rpcapi
joins them into UserMethods and AgentMethods; their versions are in
ConductorAPI's history there."""
from agent.conductor.topics_rpcapi import AGENT_TOPIC
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.rpc import clients


class InterfaceAgentMethods(clients.Client):
    """Topic ``conductor``: the ports an agent took out of its guests."""
    SERVES = AGENT_TOPIC

    def interfaces_detached(self, ctxt, *, host):
        return self._call(
            ctxt, 'interfaces_detached', topic=AGENT_TOPIC, version='1.23',
            host=host)


class InterfaceMethods(clients.Client):
    """Topic ``conductor_api``: nova's os-interface."""
    SERVES = API_TOPIC

    def interface_attach(self, ctxt, *, ref, network):
        return self._call(
            ctxt, 'interface_attach', topic=API_TOPIC, version='1.23',
            ref=ref, network=network)

    def interface_detach(self, ctxt, *, ref, port_id):
        return self._call(
            ctxt, 'interface_detach', topic=API_TOPIC, version='1.23',
            ref=ref, port_id=port_id)
