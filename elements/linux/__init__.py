"""Linux devices: AF_PACKET rings (FromDevice, ToDevice) and TAP/TUN (KernelTap, KernelTun)."""
