"""The conductor client's console-token methods (topic ``conductor_api``;
served by agent.conductor.consoles). agent.conductor.rpcapi joins them
into ConductorAPI; their versions are in ConductorAPI's history there."""
from agent.conductor.topics_rpcapi import API_TOPIC
from agent.rpc import clients


class ConsoleMethods(clients.Client):
    """Console tokens: hvagent-api asks for them, hvagent-console-proxy
    checks and uses them up."""
    SERVES = API_TOPIC

    def console_token_create(self, ctxt, *, instance_uuid, protocol):
        return self._call(
            ctxt, 'console_token_create', topic=API_TOPIC, version='1.21',
            instance_uuid=instance_uuid, protocol=protocol)

    def console_token_check(self, ctxt, *, token, consume):
        return self._call(
            ctxt, 'console_token_check', topic=API_TOPIC, version='1.21',
            token=token, consume=consume)
