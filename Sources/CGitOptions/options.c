#include <git2.h>
#include "keyseal_git_options.h"

int keyseal_git_set_strict_hash_verification(int enabled) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, enabled);
}

int keyseal_git_set_cache_max_size(long long bytes) {
    return git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)bytes);
}

int keyseal_git_set_mwindow_mapped_limit(unsigned long long bytes) {
    return git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)bytes);
}

int keyseal_git_set_mwindow_size(unsigned long long bytes) {
    return git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)bytes);
}

int keyseal_git_set_tree_cache_limit(unsigned long long bytes) {
    return git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, (int)GIT_OBJECT_TREE, (size_t)bytes);
}
