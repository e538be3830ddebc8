"""The compute agent (hvagent-compute): RPC manager, resource tracker and
node identity of one hypervisor host."""
