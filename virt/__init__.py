"""Virt drivers: the hypervisor side of the agent. No RPC, no database here."""
