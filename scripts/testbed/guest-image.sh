#!/usr/bin/env bash
# Build a tiny bootable BIOS guest from Debian packages, with no image download:
# the cloud kernel and busybox in an initramfs, on a FAT disk booted by syslinux.
# The guest reads a NoCloud `cidata` CD-ROM (hostname, `#!` user-data), asks for
# DHCP with its hostname, and powers off on the ACPI power button.
# Cached; prints the qcow2 image's path as its last line.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE/guest"

cloud_kernel() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1
}
kernel_package="$(cloud_kernel)"
if [ -z "$kernel_package" ]; then
    apt-get update -qq
    kernel_package="$(cloud_kernel)"
fi
key="$(sha256sum < "$0" | cut -c1-12)-${kernel_package#linux-image-}"
image="$CACHE/tiny-$key.qcow2"
if [ -f "$image" ]; then
    echo "$image"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE"
log "building the guest image from $kernel_package and busybox-static"
rm -f "$CACHE"/tiny-*.qcow2
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$kernel_package" >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
release="${kernel_package#linux-image-}"
modules="$work/kernel/lib/modules/$release"

root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,mnt/seed,lib/modules}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# Drivers in load order: virtio for disk and network, SATA and ISO 9660 for the
# seed CD-ROM, and evdev with the ACPI button so the power button reaches acpid.
wanted=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover
        virtio_net virtio_blk virtio_balloon virtio_console scsi_common scsi_mod cdrom sr_mod libata libahci ahci
        isofs evdev button)
for name in "${wanted[@]}"; do
    file="$(find "$modules/kernel" -name "$name.ko*" | head -n 1)"
    [ -n "$file" ] || continue
    case "$file" in
        *.xz) xz -dc "$file" > "$root/lib/modules/$name.ko" ;;
        *.zst) zstd -qdc "$file" > "$root/lib/modules/$name.ko" ;;
        *) cp "$file" "$root/lib/modules/$name.ko" ;;
    esac
    echo "$name" >> "$root/lib/modules/order"
done

# busybox acpid turns the power button into event PWRF and runs this handler.
mkdir -p "$root/etc/acpi/PWRF"
printf '#!/bin/sh\necho "virtrigaud-guest: power button, shutting down"\nsync\npoweroff -f\n' \
    > "$root/etc/acpi/PWRF/00000080"
chmod +x "$root/etc/acpi/PWRF/00000080"

cat > "$root/etc/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in
    bound | renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route replace default via "${router%% *}"
        ;;
esac
exit 0
EOF
chmod +x "$root/etc/udhcpc.sh"

cat > "$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec >/dev/console 2>&1
while read -r name; do insmod "/lib/modules/$name.ko" 2>/dev/null; done < /lib/modules/order
name=virtrigaud-guest
sleep 1
for device in /dev/sr0 /dev/sr1 /dev/vd?; do
    [ -b "$device" ] || continue
    if mount -t iso9660 -o ro "$device" /mnt/seed 2>/dev/null; then
        if [ -f /mnt/seed/meta-data ]; then
            found="$(sed -n 's/^local-hostname: *//p' /mnt/seed/meta-data | head -n 1 | tr -d '"\r')"
            [ -n "$found" ] && name="$found"
            if head -c 2 /mnt/seed/user-data 2>/dev/null | grep -q '^#!'; then
                cp /mnt/seed/user-data /tmp/user-data && chmod +x /tmp/user-data
                /tmp/user-data > /tmp/user-data.log 2>&1 &
            fi
            break
        fi
        umount /mnt/seed
    fi
done
hostname "$name"
acpid -c /etc/acpi -l /tmp/acpid.log
ip link set lo up
ip link set eth0 up 2>/dev/null && udhcpc -f -S -i eth0 -x "hostname:$name" -s /etc/udhcpc.sh >/dev/null 2>&1 &
echo "virtrigaud-guest ready: $name"
while true; do sleep 3600; done
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$work/initrd.gz"

raw="$work/disk.raw"
truncate -s 1G "$raw"
mkfs.fat -F 32 -n VRGUEST "$raw" >/dev/null
syslinux --install "$raw"
cat > "$work/syslinux.cfg" <<'EOF'
DEFAULT guest
TIMEOUT 0
PROMPT 0
LABEL guest
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 quiet panic=5
EOF
mcopy -i "$raw" "$work/syslinux.cfg" ::/syslinux.cfg
mcopy -i "$raw" "$work/kernel/boot/vmlinuz-$release" ::/vmlinuz
mcopy -i "$raw" "$work/initrd.gz" ::/initrd.gz
qemu-img convert -q -f raw -O qcow2 "$raw" "$image.tmp"
mv "$image.tmp" "$image"
log "guest image: $(du -h "$image" | cut -f1) on disk, 1 GiB virtual"
echo "$image"
