"""Request bodies of the Compute API, in nova's shapes (what the
``openstack`` client and openstacksdk send)."""
import base64
import binascii
from typing import Literal

from pydantic import Field
from pydantic import field_validator
from pydantic import model_validator

from agent.api.schemas import Name
from agent.api.schemas import Strict


class NetworkRef(Strict):
    uuid: str | None = Field(None, min_length=1, max_length=255,
                             description='a network (id or name)')
    fixed_ip: str | None = Field(None, min_length=1, max_length=64)
    port: str | None = Field(None, min_length=1, max_length=64)
    tag: str | None = Field(None, max_length=60)


class SecurityGroupRef(Strict):
    name: str = Name


class BlockDeviceMapping(Strict):
    """nova's block_device_mapping_v2 entry. Only the one the clients
    send for an image boot (the image to a local root disk) is served."""
    uuid: str | None = Field(None, max_length=255)
    boot_index: int | str | None = None
    source_type: Literal['image', 'volume', 'snapshot', 'blank']
    destination_type: Literal['local', 'volume'] | None = None
    delete_on_termination: bool = True
    volume_size: int | None = None
    device_name: str | None = Field(None, max_length=255)

    def is_image_root(self, image: str) -> bool:
        return (self.source_type == 'image' and
                self.destination_type in (None, 'local') and
                str(self.boot_index) == '0' and self.uuid == image)


class ServerFields(Strict):
    name: str = Name
    imageRef: str = Field(min_length=1, max_length=1024,
                          description='an image id (or its URL)')
    flavorRef: str = Field(min_length=1, max_length=1024,
                           description='a flavor id or name (or its URL)')
    networks: list[NetworkRef] | Literal['auto', 'none'] | None = Field(
        None, description='"auto" and "none": no network named (the boot '
        'goes on without a NIC unless the conductor picks one)')
    security_groups: list[SecurityGroupRef] = Field([], max_length=16)
    key_name: str | None = Field(None, min_length=1, max_length=255)
    user_data: str | None = Field(None, max_length=87384,
                                  description='base64, at most 64 KiB '
                                  'decoded, UTF-8 text')
    metadata: dict[str, str] = Field({}, max_length=128)
    config_drive: bool = False
    availability_zone: str | None = Field(None, max_length=255)
    min_count: Literal[1] = Field(1, description='one server per request')
    max_count: Literal[1] = 1
    block_device_mapping_v2: list[BlockDeviceMapping] = Field(
        [], max_length=1, description='only the image as the local root '
        'disk (what the clients send with imageRef)')

    @model_validator(mode='after')
    def _image_boot(self):
        image = self.imageRef.rstrip('/').rsplit('/', 1)[-1]
        if not all(b.is_image_root(image)
                   for b in self.block_device_mapping_v2):
            raise ValueError('block_device_mapping_v2: only the image '
                             'as the local root disk is supported (no '
                             'boot from volume yet)')
        return self

    @field_validator('metadata')
    @classmethod
    def _metadata(cls, value):
        """nova's bounds, as the metadata endpoints check them."""
        if any(not 1 <= len(k) <= 255 or len(v) > 255
               for k, v in value.items()):
            raise ValueError('metadata: keys are 1 to 255 characters, '
                             'values at most 255')
        return value

    @field_validator('user_data')
    @classmethod
    def _text(cls, value):
        if value is None:
            return None
        try:
            text = base64.b64decode(value, validate=True).decode('utf-8')
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError('user_data must be base64 of UTF-8 text') \
                from None
        if len(text) > 65535:
            raise ValueError('user_data is longer than 65535 characters')
        return text


class ServerCreate(Strict):
    server: ServerFields


class Reboot(Strict):
    type: Literal['SOFT', 'HARD', 'soft', 'hard'] = 'SOFT'


class ConsoleOutput(Strict):
    length: int | str | None = None

    @field_validator('length')
    @classmethod
    def _lines(cls, value):
        if value is None or value == -1 or value == '-1':
            return None
        try:
            lines = int(value)
        except ValueError:
            raise ValueError('length must be an integer') from None
        if not 1 <= lines <= 10000:
            raise ValueError('length must be 1 to 10000 (or -1: all)')
        return lines


class KeyPairFields(Strict):
    name: str = Field(min_length=1, max_length=255,
                      pattern=r'^[A-Za-z0-9_.@-]+$')
    public_key: str | None = Field(None, min_length=1, max_length=16384)
    type: Literal['ssh'] = 'ssh'


class KeyPairCreate(Strict):
    keypair: KeyPairFields

