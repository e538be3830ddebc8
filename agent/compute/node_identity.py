"""The compute node's stable identity, kept in the state directory.

The uuid survives restarts and hostname changes; it is created once,
atomically (written to a temporary file, then renamed into place), so a
crash never leaves a half-written identity behind.
"""
import os
import tempfile
import uuid

FILE_NAME = 'compute_node_uuid'


def _read(path):
    with open(path, encoding='ascii') as f:
        text = f.read().strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError('%s does not hold a uuid (%r); remove it to give '
                         'this node a new identity' % (path, text)) from None


def get_node_uuid(state_path):
    """Return this node's uuid, creating <state_path>/compute_node_uuid."""
    path = os.path.join(state_path, FILE_NAME)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    os.makedirs(state_path, exist_ok=True)
    node_uuid = str(uuid.uuid4())
    fd, tmp = tempfile.mkstemp(dir=state_path, prefix='.' + FILE_NAME)
    try:
        with os.fdopen(fd, 'w', encoding='ascii') as f:
            f.write(node_uuid + '\n')
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return node_uuid
