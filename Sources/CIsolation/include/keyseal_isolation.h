#ifndef KEYSEAL_ISOLATION_H
#define KEYSEAL_ISOLATION_H

/// Runs TOMLKit's parser (toml++) over `text` in a child process. toml++ asserts, and so aborts the
/// process, on some malformed input instead of reporting an error (found by Fuzz/FuzzConfig): a
/// crafted .keyseal.toml in a repository would end keyseal's hooks. Returns 0 when the parser
/// returned (a table or a parse error), 1 when it died, -1 when no child could be made.
int keyseal_toml_parser_survives(const char *text);

#endif
