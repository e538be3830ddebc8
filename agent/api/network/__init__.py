"""Network v2 (neutron's API) for the OpenStack clients: networks and
their one subnet, ports, security groups and rules, quotas."""
