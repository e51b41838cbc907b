"""Numbers the kernel reports, as the names people know them by: system call numbers
(`syscalls`) and block device numbers (`disks`). The tools print these names and the
exporter uses them as label values. Nothing here touches the kernel beyond /sys."""
