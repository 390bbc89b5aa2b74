"""File formats and wrappers: how one (name, value) pair is written, and how a file of them is laid out.

A *wrapper* is the abstract way a value is written (`NAME=value`, `"name": "value"`, an XML attribute,
a Kubernetes env entry...); a *format* is the file it is written in. `CELLS` lists the (format,
wrapper) pairs that make sense; `render` writes one case, `layout` writes a whole file.
"""

SHELLISH = set(" ;&|$`\"'()<>\\")


def words_case(words, style):
    if style == "U":
        return "_".join(w.upper() for w in words)
    if style == "s":
        return "_".join(w.lower() for w in words)
    if style == "c":
        return words[0].lower() + "".join(w.capitalize() for w in words[1:])
    if style == "P":
        return "".join(w.capitalize() for w in words)
    if style == "k":
        return "-".join(w.lower() for w in words)
    if style == "d":
        return ".".join(w.lower() for w in words)
    if style == "H":
        return "-".join(w.capitalize() for w in words)
    raise ValueError(style)


def sq(v):
    """Single-quoted for a shell if it needs quoting."""
    return "'" + v + "'" if any(c in SHELLISH for c in v) else v


def xml(v):
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render(fmt, wrapper, words, v, variant, i):
    """Lines for one case, and the index of the line that holds the value."""
    U, s, c, P, k, d = (words_case(words, x) for x in "UscPkd")
    H = words_case(words, "H")
    var = variant
    if wrapper == "plain":
        if fmt == "markdown":
            return ["Put this in `.env`:", "", "```", f"{U}={v}", "```", ""], 3
        return [f"{U}={v}"], 0
    if wrapper == "quoted":
        if fmt in ("env", "shell"):
            return [f'{U}="{v}"' if var % 2 == 0 or "'" in v else f"{U}='{v}'"], 0
        if fmt == "php":
            return [f"${c} = '{v}';"], 0
        if fmt == "python":
            return [f'{U} = "{v}"' if var % 2 == 0 else f"{s} = '{v}'"], 0
        if fmt == "javascript":
            return [f'const {c} = "{v}";' if var % 2 == 0 else f"let {c} = '{v}';"], 0
        if fmt == "go":
            return [f'const {c} = "{v}"' if var % 2 == 0 else f'var {P} = "{v}"'], 0
        if fmt == "java":
            return [f'    private static final String {U} = "{v}";'], 0
        if fmt == "csharp":
            return [f'        private const string {P} = "{v}";'], 0
    if wrapper == "export":
        if fmt == "dockerfile":
            return [f'RUN export {U}="{v}" && ./build.sh'], 0
        if fmt == "markdown":
            return ["Then run:", "", "```bash", f'export {U}="{v}"', "```", ""], 3
        return [f'export {U}="{v}"' if var % 2 == 0 else f"export {U}={sq(v)}"], 0
    if wrapper == "json-pair":
        key = s if var % 2 == 0 else c
        if fmt == "markdown":
            return ["Example configuration:", "", "```json", "{", f'  "{key}": "{v}"', "}", "```", ""], 4
        if fmt == "javascript":
            return [f'  "{key}": "{v}",'], 0
        return [f'    "{key}": "{v}"'], 0
    if wrapper == "yaml-pair":
        if fmt == "markdown":
            return ["In `config.yaml`:", "", "```yaml", f"{s}: {v}", "```", ""], 3
        if fmt == "k8s":
            return [f"  {s}: '{v}'" if var % 2 == 0 else f'  {c}: "{v}"'], 0
        return [[f"  {s}: '{v}'", f'  {s}: "{v}"', f"  {s}: {v}"][var % 3]], 0
    if wrapper == "kv-eq":
        if fmt == "toml":
            return [f'{s} = "{v}"'], 0
        if fmt == "ini":
            return [f"{s} = {v}" if var % 2 == 0 else f"{s}={v}"], 0
        if fmt == "properties":
            return [[f"{d}={v}", f"{d} = {v}", f"{d}: {v}"][var % 3]], 0
        if fmt == "hcl":
            return [f'  {s} = "{v}"'], 0
    if wrapper == "xml-element":
        return [f"    <{c}>{xml(v)}</{c}>"], 0
    if wrapper == "xml-attribute":
        return [f'    <credential id="c{i}" {c}="{xml(v)}" />'], 0
    if wrapper == "xml-add-key":
        return [f'    <add key="{U if var % 2 == 0 else P}" value="{xml(v)}" />'], 0
    if wrapper == "php-define":
        return [f"define('{U}', '{v}');"], 0
    if wrapper == "docker-env":
        return [[f"ENV {U}={sq(v)}", f"ARG {U}={sq(v)}", f'ENV {U}="{v}"'][var % 3]], 0
    if wrapper == "compose-env":
        if var % 2 == 0:
            return [f"  app{i}:", "    image: registry.internal.test/app:1.4", "    environment:", f"      - {U}={v}"], 3
        return [f"  app{i}:", "    image: registry.internal.test/app:1.4", "    environment:", f'      {U}: "{v}"'], 3
    if wrapper == "k8s-env":
        return [f"            - name: {U}", f'              value: "{v}"'], 1
    if wrapper == "heredoc":
        if fmt == "dockerfile":
            return ["RUN cat > /app/.env <<EOF", f"{U}={v}", "EOF"], 1
        if fmt == "markdown":
            return ["Create the file:", "", "```sh", "cat > ~/.config/app.env <<'EOF'", f"{U}={v}", "EOF", "```", ""], 4
        return ["cat > /etc/app/env.conf <<'EOF'", f"{U}={v}", "EOF"], 1
    if wrapper == "cmdline":
        forms = [f"app-cli configure --{k} {sq(v)}",
                 f'curl -sS -H "X-{H}: {v}" https://api.service.test/v1/status',
                 f"app-cli login --{k}={sq(v)}"]
        line = forms[var % 3]
        if fmt == "dockerfile":
            return [f"RUN {line}"], 0
        if fmt == "compose":
            return [f"  job{i}:", "    image: registry.internal.test/tools:2", f'    command: ["app-cli", "--{k}", "{v}"]'], 2
        if fmt == "markdown":
            return ["Run:", "", "```sh", line, "```", ""], 3
        return [line], 0
    if wrapper == "sql-insert":
        forms = [f"INSERT INTO app_settings (name, value) VALUES ('{U}', '{v}');",
                 f"UPDATE app_settings SET value = '{v}' WHERE name = '{U}';",
                 f"INSERT INTO integrations (service, {s}) VALUES ('svc{i}', '{v}');"]
        return [forms[var % 3]], 0
    if wrapper == "call-arg":
        if fmt == "python":
            return [[f'client{i} = Client({s}="{v}")', f'os.environ.setdefault("{U}", "{v}")',
                     f'CONFIG["{s}"] = "{v}"'][var % 3]], 0
        if fmt == "javascript":
            return [[f"const client{i} = new Client({{ {c}: '{v}' }});", f'client.setCredential("{U}", "{v}");'][var % 2]], 0
        if fmt == "go":
            return [[f'\tos.Setenv("{U}", "{v}")', f'\tclients = append(clients, api.New(api.Config{{{P}: "{v}"}}))'][var % 2]], 0
        if fmt == "java":
            return [f'        props.setProperty("{d}", "{v}");'], 0
        if fmt == "csharp":
            return [f'        Environment.SetEnvironmentVariable("{U}", "{v}");'], 0
        if fmt == "php":
            return [f"    '{s}' => '{v}',"], 0
    raise ValueError(f"no rendering for {fmt}/{wrapper}")


CELLS = [
    ("env", "plain"), ("env", "quoted"), ("env", "export"),
    ("shell", "plain"), ("shell", "quoted"), ("shell", "export"), ("shell", "heredoc"), ("shell", "cmdline"),
    ("dockerfile", "docker-env"), ("dockerfile", "cmdline"), ("dockerfile", "heredoc"), ("dockerfile", "export"),
    ("compose", "compose-env"), ("compose", "cmdline"),
    ("k8s", "k8s-env"), ("k8s", "yaml-pair"),
    ("yaml", "yaml-pair"), ("json", "json-pair"), ("toml", "kv-eq"), ("ini", "kv-eq"), ("properties", "kv-eq"),
    ("hcl", "kv-eq"),
    ("xml", "xml-element"), ("xml", "xml-attribute"), ("xml", "xml-add-key"),
    ("php", "php-define"), ("php", "quoted"), ("php", "call-arg"),
    ("python", "quoted"), ("python", "call-arg"),
    ("javascript", "quoted"), ("javascript", "call-arg"), ("javascript", "json-pair"),
    ("go", "quoted"), ("go", "call-arg"),
    ("java", "quoted"), ("java", "call-arg"),
    ("csharp", "quoted"), ("csharp", "call-arg"),
    ("sql", "sql-insert"),
    ("markdown", "plain"), ("markdown", "export"), ("markdown", "cmdline"), ("markdown", "yaml-pair"),
    ("markdown", "json-pair"),
]

FILENAMES = {
    "env": ".env", "shell": "setup.sh", "dockerfile": "Dockerfile", "compose": "docker-compose.yml",
    "k8s": "deployment.yaml", "yaml": "config.yaml", "json": "config.json", "toml": "config.toml",
    "ini": "settings.ini", "properties": "application.properties", "hcl": "main.tf", "xml": "app.config",
    "php": "config.php", "python": "settings.py", "javascript": "config.js", "go": "config.go",
    "java": "AppConfig.java", "csharp": "Settings.cs", "sql": "seed.sql", "markdown": "README.md",
}

# Unquoted contexts where a value with spaces or shell metacharacters cannot be written as is.
BARE = {("env", "plain"), ("shell", "plain"), ("markdown", "plain"), ("ini", "kv-eq"), ("properties", "kv-eq"),
        ("yaml", "yaml-pair"), ("compose", "compose-env")}


def accepts(fmt, wrapper, v):
    if "\n" in v or "\t" in v:
        return False
    if any(ch in v for ch in "\"'\\`"):
        return False
    if (fmt, wrapper) in BARE and (" " in v or "#" in v or v[:1] in "&*!%@[{>|"):
        return False
    return True


def comment(fmt, text):
    if fmt in ("env", "shell", "dockerfile", "compose", "k8s", "yaml", "toml", "ini", "properties", "hcl", "python"):
        return f"# {text}"
    if fmt in ("php", "javascript", "go", "java", "csharp"):
        return f"// {text}"
    if fmt == "sql":
        return f"-- {text}"
    if fmt == "xml":
        return f"    <!-- {text} -->"
    if fmt == "markdown":
        return text
    if fmt == "json":
        return None  # JSON has no comments: layout turns the text into a member
    raise ValueError(fmt)


def frame(fmt, wrapper):
    """Header and footer lines of a file of one (format, wrapper)."""
    if fmt == "shell":
        return ["#!/bin/sh", "set -eu"], []
    if fmt == "dockerfile":
        return ["FROM debian:bookworm-slim", "WORKDIR /app"], ['CMD ["/app/run"]']
    if fmt == "compose":
        return ["services:"], []
    if fmt == "k8s":
        if wrapper == "k8s-env":
            return ["apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: billing", "spec:",
                    "  template:", "    spec:", "      containers:", "        - name: billing",
                    "          image: registry.internal.test/billing:3.2", "          env:"], []
        return ["apiVersion: v1", "kind: Secret", "metadata:", "  name: billing", "type: Opaque", "stringData:"], []
    if fmt == "yaml":
        return ["service: billing", "app:"], []
    if fmt == "json":
        return ["{", '  "service": "billing",', '  "settings": {'], ["  }", "}"]
    if fmt == "toml":
        return ['title = "billing"', "", "[service]"], []
    if fmt == "ini":
        return ["[main]"], []
    if fmt == "hcl":
        return ['terraform {', '  required_version = ">= 1.5"', "}", "", "locals {"], ["}"]
    if fmt == "xml":
        return ['<?xml version="1.0" encoding="utf-8"?>', "<configuration>", "  <appSettings>"], \
               ["  </appSettings>", "</configuration>"]
    if fmt == "php":
        if wrapper == "call-arg":
            return ["<?php", "", "return ["], ["];"]
        return ["<?php", ""], []
    if fmt == "python":
        return ["import os", "", "CONFIG = {}", ""], []
    if fmt == "javascript":
        if wrapper == "json-pair":
            return ["module.exports = {"], ["};"]
        return ["'use strict';", ""], []
    if fmt == "go":
        if wrapper == "call-arg":
            return ["package config", "", 'import (', '\t"os"', "", '\t"example.internal/api"', ")", "",
                    "var clients []*api.Client", "", "func init() {"], ["}"]
        return ["package config", ""], []
    if fmt == "java":
        if wrapper == "call-arg":
            return ["package app;", "", "import java.util.Properties;", "", "public class AppConfig {",
                    "    public static Properties load() {", "        Properties props = new Properties();"], \
                   ["        return props;", "    }", "}"]
        return ["package app;", "", "public class AppConfig {"], ["}"]
    if fmt == "csharp":
        if wrapper == "call-arg":
            return ["using System;", "", "public static class Settings", "{", "    public static void Apply()", "    {"], \
                   ["    }", "}"]
        return ["namespace App", "{", "    public static class Settings", "    {"], ["    }", "}"]
    if fmt == "sql":
        return ["BEGIN;"], ["COMMIT;"]
    if fmt == "markdown":
        return ["# Service setup", ""], []
    return [], []


def layout(fmt, wrapper, blocks, notes=(), filler_bytes=0):
    """A whole file. `blocks` is a list of (lines, value_index); `notes` are comment lines (merge markers);
    `filler_bytes` pads the file with that many bytes of harmless lines before the blocks (large files).
    Returns the text and, per block, the 1-based line numbers of its first line, its value line and its last line."""
    head, foot = frame(fmt, wrapper)
    out = list(head)
    if fmt == "json":
        members = []
        for note in notes:
            members.append(([f'    "_note": "{note}"'], 0))
        if filler_bytes:
            filler = ['    "_history": [']
            n = 0
            while n < filler_bytes:
                line = f'      "entry {len(filler):07d}: the quick brown fox jumps over the lazy dog",'
                filler.append(line)
                n += len(line) + 1
            filler[-1] = filler[-1].rstrip(",")
            filler.append("    ]")
            members.append((filler, 0))
        spans = []
        all_members = members + list(blocks)
        for m, (lines, idx) in enumerate(all_members):
            lines = list(lines)
            if m < len(all_members) - 1:
                lines[-1] += ","
            start = len(out) + 1
            out.extend(lines)
            if m >= len(members):
                spans.append((start, start + idx, start + len(lines) - 1))
        out.extend(foot)
        return "\n".join(out) + "\n", spans
    for note in notes:
        out.append(comment(fmt, note))
    if filler_bytes:
        n = 0
        while n < filler_bytes:
            line = comment(fmt, f"entry {n // 64:07d}: the quick brown fox jumps over the lazy dog")
            out.append(line)
            n += len(line) + 1
    spans = []
    for lines, idx in blocks:
        start = len(out) + 1
        out.extend(lines)
        spans.append((start, start + idx, start + len(lines) - 1))
    out.extend(foot)
    return "\n".join(out) + "\n", spans


def check_cells():
    for fmt, wrapper in CELLS:
        render(fmt, wrapper, ["acme", "api", "key"], "v", 0, 0)
    assert set(f for f, _ in CELLS) == set(FILENAMES)


check_cells()
