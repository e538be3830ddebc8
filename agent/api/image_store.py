"""The file backend of images: ``[api] image_dir/<id>``, written to a
``.part`` file while hashed and renamed into place only once complete,
matching the checksum the uploader gave (if any), and recorded by the
conductor (one upload per image wins), so a failed or refused upload
leaves nothing. Compute agents fetch them by id (virt.libvirt.images)."""
import hashlib
import os
import tempfile

from oslo_config import cfg

from agent import exception

CONF = cfg.CONF


def path(image_id):
    return os.path.join(CONF.api.image_dir, image_id)


class Writer:
    """Takes the uploaded bytes chunk by chunk (from the event loop's
    thread pool); ``finish`` checks and publishes them."""

    def __init__(self, image_id):
        os.makedirs(CONF.api.image_dir, mode=0o700, exist_ok=True)
        self.image_id = image_id
        fd, self.tmp = tempfile.mkstemp(dir=CONF.api.image_dir,
                                        prefix=image_id + '.',
                                        suffix='.part')
        self.file = os.fdopen(fd, 'wb')
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, chunk):
        self.size += len(chunk)
        check_size(self.size)
        self.digest.update(chunk)
        self.file.write(chunk)

    def finish(self, expected=None):
        """(size, sha256 hex) of the complete upload; a mismatch with
        ``expected`` is refused (and the bytes dropped)."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        checksum = self.digest.hexdigest()
        if expected and expected.lower() != checksum:
            self.abort()
            raise exception.InvalidRPCPayload(
                'checksum mismatch: expected sha256 %s, got %s'
                % (expected, checksum))
        return self.size, checksum

    def publish(self):
        """Put the bytes in place (after the conductor took them)."""
        os.replace(self.tmp, path(self.image_id))

    def abort(self):
        self.file.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def check_size(size):
    """TooLarge (a 413) past ``[api] max_image_upload_bytes``."""
    if size > CONF.api.max_image_upload_bytes:
        raise exception.TooLarge(what='The image upload',
                                 limit=CONF.api.max_image_upload_bytes,
                                 option='[api] max_image_upload_bytes')


def remove(image_id):
    try:
        os.unlink(path(image_id))
    except FileNotFoundError:
        pass
