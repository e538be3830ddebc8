"""Wire objects exchanged between services (see base.py for the format)."""
from agent.objects.base import HVObject  # noqa: F401
from agent.objects.base import is_primitive  # noqa: F401
from agent.objects.models import BlockDevice  # noqa: F401
from agent.objects.models import ComputeNode  # noqa: F401
from agent.objects.models import Flavor  # noqa: F401
from agent.objects.models import Instance  # noqa: F401
from agent.objects.models import InstanceAction  # noqa: F401
from agent.objects.models import InstanceActionEvent  # noqa: F401
from agent.objects.models import InstanceFault  # noqa: F401
from agent.objects.models import Migration  # noqa: F401
from agent.objects.models import RequestSpec  # noqa: F401
from agent.objects.models import Service  # noqa: F401
from agent.objects.net_models import FloatingIP  # noqa: F401
from agent.objects.net_models import Network  # noqa: F401
from agent.objects.net_models import Port  # noqa: F401
from agent.objects.net_models import SecurityGroup  # noqa: F401
from agent.objects.net_models import SecurityGroupRule  # noqa: F401
