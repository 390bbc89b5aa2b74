"""Example templates, expanded at run time so that no token-shaped literal is ever written down.

`⟪kind:N⟫` is N pseudo-random characters of a kind (the kinds keyseal's rule examples use), `⟪=C:N⟫`
repeats the character C N times. The expansion here is the harness's own (Python `random`, seeded):
it need not reproduce keyseal's bytes, only the shapes.

`expand` returns the text and its segments, so that a secret found inside an expanded example can be
re-randomised later (same shape, fresh characters) and planted again elsewhere.
"""
import base64
import random
import re

ALPHABETS = {
    "an": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "lo": "abcdefghijklmnopqrstuvwxyz0123456789",
    "up": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "dig": "0123456789",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    "b32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "al": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "bech": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    "b58": "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
}
KINDS = sorted(list(ALPHABETS) + ["basic", "b64dig"])
PIECE = re.compile(r"⟪([^⟪⟫]*)⟫")


class TemplateError(ValueError):
    pass


def piece(kind, count, rng):
    """The expansion of one `⟪kind:count⟫`."""
    if kind.startswith("=") and len(kind) == 2:
        return kind[1] * count
    if kind == "basic":
        user = "svc-deploy:" + "".join(rng.choice(ALPHABETS["an"]) for _ in range(count))
        return base64.b64encode(user.encode()).decode()
    if kind == "b64dig":
        digits = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(count - 1))
        return base64.b64encode(digits.encode()).decode().rstrip("=")
    if kind in ALPHABETS:
        return "".join(rng.choice(ALPHABETS[kind]) for _ in range(count))
    raise TemplateError(f"unknown kind {kind!r}")


def parse(template):
    """Segments of a template: str for literal text, (kind, count) for a random piece."""
    out, pos = [], 0
    for m in PIECE.finditer(template):
        if m.start() > pos:
            out.append(template[pos:m.start()])
        spec = m.group(1).split(":")
        if len(spec) != 2 or not spec[1].isdigit() or not 0 < int(spec[1]) <= 100000:
            raise TemplateError(f"bad piece {m.group(0)!r}")
        if not (spec[0] in ALPHABETS or spec[0] in ("basic", "b64dig") or (spec[0].startswith("=") and len(spec[0]) == 2)):
            raise TemplateError(f"unknown kind in {m.group(0)!r}")
        out.append((spec[0], int(spec[1])))
        pos = m.end()
    if pos < len(template):
        out.append(template[pos:])
    if any(isinstance(s, str) and ("⟪" in s or "⟫" in s) for s in out):
        raise TemplateError("unbalanced ⟪ ⟫")
    return out


class Expansion:
    """An expanded template: its text, and for every character whether it came from a random piece."""

    def __init__(self, template, rng):
        self.template = template
        self.segments = parse(template)
        self.text, self.random_mask = self._render(rng)

    def _render(self, rng):
        text, mask = [], []
        for seg in self.segments:
            if isinstance(seg, str):
                text.append(seg)
                mask.extend([False] * len(seg))
            else:
                kind, count = seg
                chunk = piece(kind, count, rng)
                text.append(chunk)
                mask.extend([not kind.startswith("=")] * len(chunk))
        return "".join(text), mask

    def fresh(self, rng):
        """The same template expanded again with other random characters (same lengths)."""
        text, _ = self._render(rng)
        return text

    def literal_run(self, start, end):
        """The longest run of literal (template-written) letters/digits/_- inside [start, end)."""
        best = run = 0
        for i in range(start, end):
            ch = self.text[i]
            if not self.random_mask[i] and (ch.isalnum() or ch in "_-"):
                run += 1
                best = max(best, run)
            else:
                run = 0
        return best


def expand(template, rng):
    return Expansion(template, rng).text


def rng_for(seed, *parts):
    return random.Random(f"{seed}|" + "|".join(str(p) for p in parts))
