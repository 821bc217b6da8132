"""Word lists of the synthetic catalogue, and the brand names made from them."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

# Category tree: root names, then one word list per level below (nouns, then modifiers).
ROOTS = (
    "Power Tools", "Hand Tools", "Lab Equipment", "Electrical", "Plumbing", "Safety Gear",
    "Fasteners", "Hardware", "Adhesives & Sealants", "Abrasives", "Test & Measurement",
    "Janitorial Supplies", "Material Handling", "Hydraulics", "Welding",
)
NOUNS = (
    "Drill", "Saw", "Sander", "Grinder", "Wrench", "Hammer", "Clamp", "Screwdriver", "Level",
    "Chisel", "File", "Brush", "Pump", "Valve", "Fitting", "Hose", "Pipe", "Cable", "Switch",
    "Outlet", "Relay", "Fuse", "Meter", "Gauge", "Sensor", "Glove", "Respirator", "Helmet",
    "Screw", "Bolt", "Nut", "Washer", "Anchor", "Rivet", "Tape", "Sealant", "Disc", "Wheel",
    "Belt", "Pad", "Cart", "Hoist", "Jack", "Torch", "Beaker", "Flask", "Pipette", "Scale",
    "Thermometer", "Caster", "Hinge", "Lock", "Bracket", "Filter", "Nozzle", "Fan", "Heater",
    "Light", "Battery", "Charger",
)
MOD1 = (
    "Cordless", "Corded", "Electric", "Pneumatic", "Manual", "Digital", "Analog", "Adjustable",
    "Magnetic", "Portable", "Compact", "Heavy-Duty", "Industrial", "Precision", "Rotary",
    "Hydraulic", "Wireless", "Rechargeable", "Insulated", "Waterproof", "Folding", "Telescopic",
    "Threaded", "Flexible", "Reinforced", "Disposable", "Reusable", "Mini", "Variable-Speed",
    "Low-Profile",
)
MOD2 = (
    "Steel", "Stainless", "Brass", "Aluminum", "Titanium", "Carbide", "Nylon", "Rubber",
    "Ceramic", "Copper", "Plastic", "Fiberglass", "Cast Iron", "Chrome", "Zinc", "Silicone",
    "Polycarbonate", "Glass", "Carbon", "Bronze", "Leather", "Foam", "Vinyl", "Graphite",
    "Tungsten",
)
MOD3 = (
    "Professional", "Commercial", "Economy", "Premium", "Standard", "Contractor", "Lab-Grade",
    "Marine", "Automotive", "Medical", "Food-Grade", "Outdoor", "Shop", "Field", "Bench",
    "Utility", "Specialty", "Replacement", "Universal", "OEM",
)

# Product titles, descriptions and attributes.
ADJECTIVES = (
    "Heavy-Duty", "Professional", "Compact", "Premium", "Lightweight", "Ergonomic", "Durable",
    "High-Performance", "Multi-Purpose", "Deluxe", "Rugged", "Classic", "Ultra", "Pro-Series",
    "Quick-Release", "Self-Locking", "Anti-Slip", "Corrosion-Resistant", "Low-Noise", "Smart",
)
USES = (
    "workshop use", "home repair", "laboratory work", "construction sites",
    "maintenance and repair", "automotive work", "plumbing jobs", "electrical installations",
    "cleaning and janitorial tasks", "metal fabrication", "woodworking", "field service",
)
ATTRIBUTES: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("material", ("Steel", "Stainless Steel", "Brass", "Aluminum", "Nylon", "Rubber", "Plastic",
                  "Copper", "Fiberglass", "Ceramic", "Silicone", "Cast Iron")),
    ("color", ("Black", "Red", "Yellow", "Blue", "Orange", "Green", "Gray", "White", "Silver")),
    ("size", ("Small", "Medium", "Large", "X-Large", "1/4 in", "1/2 in", "3/4 in", "1 in", "M6",
              "M8", "10 mm", "25 mm")),
    ("voltage", (3.7, 12, 18, 20, 24, 110, 120, 230, 240)),
    ("pack_size", (1, 2, 4, 6, 10, 12, 25, 50, 100)),
    ("weight_kg", (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.5, 5.0, 10.0)),
)

# Brand names.
_SYLLABLES = (
    "ka", "vex", "tor", "lin", "mar", "dyn", "pro", "tek", "ron", "sta", "bel", "cor", "flex",
    "gra", "hel", "jet", "kor", "lum", "nor", "ox", "pax", "quin", "rex", "sol", "tri", "ul",
    "vol", "wex", "xan", "zen", "bra", "cro", "del", "fin", "gal", "har", "ion", "jor", "mil",
    "nex", "or", "pri", "sen", "tal", "ver", "zor",
)
_BRAND_SUFFIXES = (
    "Tools", "Industries", "Inc.", "Co.", "Supply", "Labs", "Corp.", "Electric", "Scientific",
    "Works",
)

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def normalise_brand(name: str) -> str:
    """The key that all spellings of one synthetic brand share: lower case, alphanumerics only."""
    return _NON_ALNUM.sub("", name.lower())


def plural(noun: str) -> str:
    """English plural of a noun from :data:`NOUNS` ("Switch" -> "Switches")."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def brand_names(rng: np.random.Generator, n: int) -> list[tuple[str, list[str]]]:
    """``n`` brands with distinct normalised keys: (canonical name, spelling variants)."""
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    n_syl = len(_SYLLABLES)
    # Enough syllables per word that collisions stay rare even for millions of brands.
    max_syl = 3 if n < 20_000 else 4
    while len(out) < n:
        batch = max(64, int((n - len(out)) * 1.3))
        styles = rng.choice(3, size=batch, p=(0.6, 0.2, 0.2))
        n1 = rng.integers(2, max_syl + 1, size=batch)
        n2 = rng.integers(1, 3, size=batch)
        syl = rng.integers(0, n_syl, size=(batch, max_syl + 2))
        suffix = rng.integers(0, len(_BRAND_SUFFIXES), size=batch)
        for i in range(batch):
            style = int(styles[i])
            s = [_SYLLABLES[int(j)] for j in syl[i]]
            if style == 0:  # "Vextron"
                word = s[: n1[i]]
                canon = _cap("".join(word))
                variants = [canon.upper(), canon.lower(), "".join(_cap(w) for w in word)]
            elif style == 1:  # "Vex & Tron"
                a = _cap("".join(s[: n2[i]]))
                b = _cap("".join(s[n2[i]: n2[i] + 2]))
                canon = f"{a} & {b}"
                variants = [f"{a.upper()} & {b.upper()}", f"{a}&{b}", f"{a.upper()}+{b.upper()}",
                            f"{a}-{b}", f"{a} {b}"]
            else:  # "Vextron Tools"
                word = _cap("".join(s[: n1[i]]))
                suf = _BRAND_SUFFIXES[int(suffix[i])]
                canon = f"{word} {suf}"
                variants = [canon.upper(), f"{word}-{suf}", canon.lower(),
                            f"{word} {suf.rstrip('.')}" if suf.endswith(".") else f"{word}{suf}"]
            key = normalise_brand(canon)
            if key in seen:
                continue
            seen.add(key)
            variants = [v for v in dict.fromkeys(variants) if v != canon]
            out.append((canon, variants))
            if len(out) == n:
                break
    return out
