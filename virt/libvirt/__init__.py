"""The libvirt virt driver for KVM/QEMU."""
