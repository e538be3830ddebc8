"""[libvirt] options of the libvirt virt driver (compute_driver=libvirt)."""
from oslo_config import cfg

group = cfg.OptGroup('libvirt', title='libvirt driver options')

opts = [
    cfg.StrOpt(
        'virt_type', default='kvm', choices=['kvm', 'qemu'],
        help='Domain type: kvm (hardware virtualization) or qemu (software '
             'emulation, TCG; for tests and hosts without /dev/kvm).'),
    cfg.StrOpt(
        'connection_uri', default='',
        help='libvirt URI; empty means qemu:///system.'),
    cfg.StrOpt(
        'cpu_mode', default=None,
        choices=[None, 'host-model', 'host-passthrough', 'custom'],
        help='Guest CPU model mode; unset means host-model with kvm and the '
             "hypervisor's default with qemu."),
    cfg.StrOpt(
        'image_cache_path', default='$state_path/images/_base',
        help='Where fetched images are kept, one file per image named by '
             'the SHA-256 of its reference; instance disks are overlays on '
             'them.'),
    cfg.StrOpt(
        'qemu_group', default='libvirt-qemu',
        help='The group QEMU runs as (qemu.conf "group"; libvirt-qemu on '
             'Debian and Ubuntu, qemu on RPM systems). Instance and image '
             'cache directories are made 0750 and cached images and root '
             'disks 0640 with this group (config drives 0600: libvirt '
             'hands them to QEMU\'s user when the guest starts); the agent '
             'must be root or in this group. A group that does not exist '
             'leaves directories 0711 and files 0600.'),
    cfg.IntOpt(
        'remove_unused_base_images_age', default=24 * 3600, min=0,
        help='Seconds a cached image must have been unused by every guest '
             'of this host before the periodic pass removes it.'),
    cfg.IntOpt(
        'image_download_timeout', default=600, min=1,
        help='Seconds a whole image download may take (checked after '
             'every read); past it the download is dropped, its partial '
             'file removed, and the build fails.'),
    cfg.IntOpt(
        'image_read_timeout', default=60, min=1,
        help='Seconds one read of an image download (and its connect) may '
             'wait for data.'),
    cfg.IntOpt(
        'snapshot_copy_timeout', default=3600, min=1,
        help='Seconds the copy of a running guest\'s root disk for a '
             'snapshot may take to catch up with the disk; past it the '
             'copy is dropped and the snapshot fails (the guest runs on).'),
    cfg.IntOpt(
        'max_image_download_bytes', default=64 * 1024 ** 3, min=1,
        help='Largest image, kernel or ramdisk this host downloads (bytes; '
             'a larger Content-Length is refused before the first byte, '
             'a larger body once it passes the cap).'),
    cfg.IntOpt(
        'reboot_timeout', default=120, min=0,
        help='Seconds a soft reboot waits for the guest to shut down '
             '(ACPI) before it falls back to a hard reboot.'),
    cfg.BoolOpt(
        'force_config_drive', default=False,
        help='Give every guest a config drive, asked for or not.'),
    cfg.ListOpt(
        'allowed_image_dirs',
        default=['/var/cache/hvagent', '$state_path/images'],
        help='Directories local images may be read from: an image, kernel '
             'or ramdisk given as an absolute path or file:// URL must '
             'resolve (symbolic links and .. followed) inside one of them, '
             'or the build fails with "outside the allowed local '
             'directories". Empty: local files are refused, only http(s) '
             'URLs are fetched.'),
    cfg.ListOpt(
        'allowed_volume_dirs', default=['$state_path/volumes'],
        help='Directories file-backed volumes may live in: a volume path '
             'must resolve (symbolic links and .. followed) inside one of '
             'them, or the attach is refused. Keep instance directories '
             'and host files out of it: libvirt hands the file to the '
             'guest and relabels it for QEMU.'),
    cfg.IntOpt(
        'connection_retry_seconds', default=60, min=0,
        help='How long an operation waits for libvirtd to come back when '
             'the connection is lost before it fails.'),
    cfg.IntOpt(
        'call_timeout', default=60, min=0,
        help='Seconds one call to libvirtd may take before the operation '
             'fails with a timeout (a hung or stopped libvirtd must not '
             'hold the agent\'s threads); waits the operation asks for, '
             'such as a graceful shutdown, come on top. 0 waits for ever.'),
    cfg.StrOpt(
        'live_migration_inbound_addr', default=None,
        sample_default='<[DEFAULT] host>',
        help='The address (IP address or DNS host name) other hosts send '
             'the memory and disks of a guest migrating to this host to '
             '(tcp://<address>); reported to the conductor, which hands it '
             'to the source. Unset: this host\'s [DEFAULT] host, which '
             'must then resolve on the other hosts to this host\'s '
             'migration network.'),
    cfg.BoolOpt(
        'instances_shared_storage', default=False,
        help='Whether instances_path is one shared file system seen by the '
             'hosts guests move between (NFS, CephFS): a migration then '
             'copies only memory, the destination makes no disk files and '
             'neither side removes them. False: the destination makes the '
             'root overlay and config drive and the root disk is copied.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
