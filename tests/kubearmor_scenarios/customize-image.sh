#!/bin/sh
# mmdebstrap customize hook: what KubeArmor's test-image Dockerfile adds to its Ubuntu base.
# $1: the rootfs; $2: ../shared/reference/kubearmor/test-image (C sources).
set -eu
root=$1
src=$2

gcc -O2 -o "$root/hello" "$src/helloworld/hello.c"
gcc -O2 -o "$root/readwrite" "$src/readwrite/readwrite.c"

echo "secret file" >> "$root/secret.txt"
echo "plain file" >> "$root/plain.txt"
mkdir -p "$root/credentials/keys"
echo "password file" >> "$root/credentials/password"
echo "token file" >> "$root/credentials/token"
echo "cert file" >> "$root/credentials/keys/cert.ca"
echo "key file" >> "$root/credentials/keys/priv.key"

chroot "$root" useradd --create-home --shell /bin/bash user1
echo 'user1:passwd1' | chroot "$root" chpasswd
home=$root/home/user1
cp "$root/hello" "$home/hello"
cp "$root/readwrite" "$home/readwrite"
echo "secret file user1" >> "$home/secret_data1.txt"
mkdir -p "$home/dir1"
echo "key file 1" >> "$home/dir1/key1.txt"
echo "other file" >> "$home/otherfile.txt"
chroot "$root" chown user1:user1 /home/user1/hello /home/user1/readwrite /home/user1/secret_data1.txt \
    /home/user1/dir1 /home/user1/dir1/key1.txt /home/user1/otherfile.txt

# kubelet mounts /etc/hosts into every container; a bare rootfs has none
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
