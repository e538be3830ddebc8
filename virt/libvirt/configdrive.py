"""The config drive: instance metadata on a small ISO the guest can read.

cloud-init (and cloudbase-init) look for a filesystem labelled ``config-2``
holding ``openstack/latest/{meta_data.json,user_data,network_data.json}``,
the layout nova writes; matching it lets stock cloud images boot unchanged
with no metadata server. The ISO carries Rock Ridge (Linux sees the real
lower-case names) and Joliet (Windows does); the plain ISO9660 names are
mangled 8.3 ones nobody reads but the format requires.

The drive is built with pycdlib in-process (no genisoimage on the host) under
a temporary name and renamed into place, so a guest is never defined with a
half-written drive.
"""
import contextlib
import io
import json
import os
import re
import tempfile

import pycdlib

LABEL = 'config-2'
_VERSION_DIR = 'openstack/latest'


def build(path, *, uuid, name, hostname=None, project_id=None,
          public_keys=None, user_data=None, network_data=None, meta=None,
          availability_zone=None):
    """Write the config drive of one guest to ``path``.

    ``public_keys`` maps key name to OpenSSH public key text; ``user_data``
    is text (stored UTF-8) or bytes, left out when None; ``network_data`` is
    the network_data.json dict, empty lists when None. ``hostname`` defaults
    to ``name`` made a valid host name.
    """
    public_keys = dict(public_keys or {})
    meta_data = {
        'uuid': uuid,
        'name': name,
        'hostname': hostname or _hostname(name, uuid),
        'project_id': project_id,
        'launch_index': 0,
        'public_keys': public_keys,
        'keys': [{'name': k, 'type': 'ssh', 'data': v}
                 for k, v in sorted(public_keys.items())],
        'meta': dict(meta or {}),
    }
    if availability_zone:
        meta_data['availability_zone'] = availability_zone
    files = {
        'meta_data.json': _json(meta_data),
        'network_data.json': _json(network_data or {
            'links': [], 'networks': [], 'services': []}),
    }
    if user_data is not None:
        files['user_data'] = (user_data.encode('utf-8')
                              if isinstance(user_data, str) else user_data)
    _write_iso(path, files)


def _json(value):
    return json.dumps(value, ensure_ascii=False, indent=2,
                      sort_keys=True).encode('utf-8')


def _hostname(name, uuid):
    """A RFC 1123 label from the instance name (the uuid if nothing is left).
    """
    label = re.sub(r'[^a-z0-9-]+', '-', (name or '').lower())
    return label.strip('-')[:63].rstrip('-') or uuid


def _iso_name(name, is_dir):
    """The ISO9660 level 1 name of ``name``: upper-case 8.3 d-characters."""
    stem, _, ext = name.upper().partition('.')
    stem, ext = (re.sub(r'[^A-Z0-9_]', '_', p) for p in (stem, ext))
    if is_dir:
        return stem[:8]
    return '%s.%s;1' % (stem[:8], ext[:3])


def _write_iso(path, files):
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident=LABEL, sys_ident='LINUX',
            joliet=3, rock_ridge='1.09')
    iso_dir = ''
    parts = _VERSION_DIR.split('/')
    for i, part in enumerate(parts):
        iso_dir += '/' + _iso_name(part, is_dir=True)
        iso.add_directory(iso_dir, rr_name=part,
                          joliet_path='/' + '/'.join(parts[:i + 1]))
    for fname, data in sorted(files.items()):
        iso.add_fp(io.BytesIO(data), len(data),
                   '%s/%s' % (iso_dir, _iso_name(fname, is_dir=False)),
                   rr_name=fname,
                   joliet_path='/%s/%s' % (_VERSION_DIR, fname))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix='.%s.' % os.path.basename(path),
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as out:
            iso.write_fp(out)
            out.flush()
            os.fsync(out.fileno())
        # user_data and keys: libvirt chowns the drive to QEMU's user
        # when it starts the guest (dynamic_ownership), nobody else reads
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        iso.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
