"""The conductor refuses a volume path that is relative or not normalised
before it records the attach (no bdm row, no task_state); where the path may
point is the agent's allow-list (tests/unit/virt/libvirt/
test_allowed_paths.py)."""
import pytest

from agent import exception
from agent.conductor import lifecycle


@pytest.mark.parametrize('path', [
    '../../etc/passwd', 'vol.qcow2', '/srv/volumes/../../etc/shadow',
    '/srv/volumes/./v.qcow2', '/srv//volumes/v.qcow2', '/', ''])
def test_bad_volume_paths_are_refused(path):
    with pytest.raises(exception.InvalidRPCPayload, match='normalised'):
        lifecycle.check_volume_path({'path': path})


@pytest.mark.parametrize('info', [
    {'path': '/srv/volumes/v7.qcow2'}, {'path': '/srv/volumes/dir/'},
    {'path': '/srv/volumes/<&>\u202e.raw'}, {}])
def test_absolute_normalised_paths_pass(info):
    lifecycle.check_volume_path(info)
