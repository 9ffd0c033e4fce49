/* SPDX-License-Identifier: MIT
 * fs-cred.h - run one backing call with the FUSE caller's file-system
 * credentials, so new files get the caller's uid/gid (setgid directories
 * included) and the store's kernel checks again what default_permissions
 * checked on the mount (per thread; the rest of the daemon stays root). */
#ifndef FS_CRED_H
#define FS_CRED_H
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

/* Takes on the caller's fsuid, fsgid and supplementary groups (those of
   its uid in the group database, cached for a minute: the kernel does not
   pass a request's groups cheaply). Root callers change nothing. */
void fs_cred_enter(fuse_req_t req);
/* Returns this thread to root. Safe to call when not entered. */
void fs_cred_leave(void);

#endif
