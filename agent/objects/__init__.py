"""Wire objects exchanged between services (see base.py for the format)."""
from agent.objects.base import HVObject, is_primitive  # noqa: F401
from agent.objects.models import (  # noqa: F401
    BlockDevice, ComputeNode, Flavor, Instance, InstanceAction,
    InstanceActionEvent, InstanceFault, RequestSpec, Service)
from agent.objects.net_models import (  # noqa: F401
    FloatingIP, Network, Port, SecurityGroup, SecurityGroupRule)
