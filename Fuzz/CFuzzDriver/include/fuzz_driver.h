#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs that have their own main (compiler-rt FuzzerInterface.h).
// SwiftPM links an executable with `main` aliased to `<target>_main`, so each fuzz target defines
// that function and hands control to libFuzzer through this.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
