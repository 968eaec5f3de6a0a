"""The clickpy VM appliance: one config, one small bootable image.

``clickpy appliance build CONFIG -o DIR`` makes a kernel (built once from
Debian's linux-source with ``kernel.config``, cached) and an initramfs
(Python, the modules the router needs, ``/init``, the config);
``clickpy appliance run DIR --nic TAP ...`` boots it under QEMU. See
cli.py for the commands and build.py for the seam with the runtime.
"""
