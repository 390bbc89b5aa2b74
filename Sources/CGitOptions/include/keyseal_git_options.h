#ifndef KEYSEAL_GIT_OPTIONS_H
#define KEYSEAL_GIT_OPTIONS_H
/* Fixed-arity wrappers around the variadic git_libgit2_opts. Each returns libgit2's status. */
int keyseal_git_set_strict_hash_verification(int enabled);
int keyseal_git_set_cache_max_size(long long bytes);
int keyseal_git_set_mwindow_mapped_limit(unsigned long long bytes);
int keyseal_git_set_mwindow_size(unsigned long long bytes);
int keyseal_git_set_tree_cache_limit(unsigned long long bytes);
#endif
