"""The conductor's topics by audience (see
agent.conductor.rpcapi.ConductorAPI), for the parts of its client."""
#: what compute agents ask
AGENT_TOPIC = 'conductor'
#: compute agents' periodic resource reports, read in batches
#: (agent.conductor.report_queue)
REPORT_TOPIC = 'conductor_reports'
#: what hvagent-api, hvctl and operators ask
API_TOPIC = 'conductor_api'
#: projects, users, roles and tokens
IDENTITY_TOPIC = 'identity'
