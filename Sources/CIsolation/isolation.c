#include "keyseal_isolation.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// TOMLKit's C entry point (CTOML, linked into every binary that links TOMLKit). The error out
// parameter is a small struct; a larger buffer stands in for it, as the child only needs to know
// whether the call returns.
extern void *tableCreateFromString(const char *text, void *error);

int keyseal_toml_parser_survives(const char *text) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        // The child says nothing (an assertion message quotes no content, but is noise), and dies
        // by the plain signal: no crash report from the Swift runtime's handlers.
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        signal(SIGABRT, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        unsigned char error[512];
        (void)tableCreateFromString(text, error);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
