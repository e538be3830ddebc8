"""Who may read a guest's files on this host.

Cached images, instance disks and config drives (which carry user_data and
keys) are no one else's business: directories are 0750 and files 0640,
group-owned by QEMU's group (``[libvirt] qemu_group``, libvirt-qemu on
Debian, qemu on RPM systems), so QEMU reaches them whatever libvirt's
``dynamic_ownership`` says; the config drive is 0600: with qemu:///system
libvirt chowns a guest's disks to QEMU's user when it starts the guest
(and gives them back when it stops), so only the agent and that guest's
QEMU ever read it.

Without that group on the host (or the right to use it) directories fall
back to 0711: QEMU can still traverse them, nobody can list them.
"""
import grp
import logging
import os

LOG = logging.getLogger(__name__)
DIR, SHARED, PRIVATE = 0o750, 0o640, 0o600
_TRAVERSE_ONLY = 0o711


class Modes:
    def __init__(self, group_name):
        self.gid = None
        if group_name:
            try:
                self.gid = grp.getgrnam(group_name).gr_gid
            except KeyError:
                LOG.warning('Group %s ([libvirt] qemu_group) does not exist:'
                            ' instance and image directories will be 0711',
                            group_name)

    def _group(self, path=None, fd=None):
        """Give ``path`` (or ``fd``) QEMU's group; False if we may not."""
        if self.gid is None:
            return False
        try:
            if fd is not None:
                os.fchown(fd, -1, self.gid)
            else:
                os.chown(path, -1, self.gid)
        except PermissionError:
            LOG.warning('Cannot give %s to group %d ([libvirt] qemu_group):'
                        ' the agent must be root or in that group',
                        path or 'a file', self.gid)
            return False
        return True

    def make_dir(self, path):
        """``path`` (and missing parents) 0750 with QEMU's group."""
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, DIR if self._group(path) else _TRAVERSE_ONLY)

    def shared(self, path=None, fd=None):
        """A file QEMU reads (a base image, a root disk): 0640."""
        mode = SHARED if self._group(path, fd) else PRIVATE
        if fd is not None:
            os.fchmod(fd, mode)
        else:
            os.chmod(path, mode)

    @staticmethod
    def private(path):
        os.chmod(path, PRIVATE)
