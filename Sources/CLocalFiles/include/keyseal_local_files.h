#ifndef KEYSEAL_LOCAL_FILES_H
#define KEYSEAL_LOCAL_FILES_H

/// 1 when the open file `descriptor` lies on a local file system (ext4, xfs, btrfs, tmpfs, overlayfs,
/// zfs, f2fs), where a mapping of it stays valid after the file is unlinked or replaced by a rename;
/// 0 otherwise (NFS, SMB, FUSE and anything unknown: another host may remove the file under a
/// mapping, and the next page fault would kill the process), or when it cannot be told.
int keyseal_on_local_file_system(int descriptor);

#endif
