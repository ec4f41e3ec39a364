"""Fixed data the demo data set is drawn from: plans, rewards, products, places, names.

Plain tuples and dicts, in a fixed order: the demo must come out byte-identical
for the same reference date, so nothing here may be a set (iteration order of
sets of strings changes between runs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str
    rank: int
    monthly_price_cents: int
    features: tuple[str, ...]


_STARTER = ("notes", "sync", "reminders")
_PLUS = (*_STARTER, "templates", "sharing", "calendar")
_PRO = (*_PLUS, "offline", "automation", "api")
_BUSINESS = (*_PRO, "admin_console", "sso", "analytics")

PLANS = (
    PlanSpec("starter", "Starter", 1, 500, _STARTER),
    PlanSpec("plus", "Plus", 2, 1200, _PLUS),
    PlanSpec("pro", "Pro", 3, 2400, _PRO),
    PlanSpec("business", "Business", 4, 4900, _BUSINESS),
)
PLANS_BY_CODE = {plan.code: plan for plan in PLANS}
"""A yearly plan costs ten months: two months free."""

# (code, name, points cost, minimum tier)
REWARDS = (
    ("sticker_pack", "Lumen sticker pack", 150, "bronze"),
    ("stylus_tips", "Stylus tips (6-pack)", 400, "bronze"),
    ("month_free", "One month free on your plan", 1000, "silver"),
    ("desk_mat", "Lumen Desk Mat", 1200, "silver"),
    ("lumen_stand", "Lumen Stand", 2000, "gold"),
    ("priority_support", "Priority support for a year", 2500, "gold"),
    ("lumen_pen", "Lumen Pen", 4000, "platinum"),
)

# code: (product name, sku, unit price in cents)
PRODUCTS = {
    "pen": ("Lumen Pen", "LUM-PEN-01", 7900),
    "stand": ("Lumen Stand", "LUM-STD-01", 3900),
    "sleeve": ("Lumen Sleeve 11-inch", "LUM-SLV-11", 2900),
    "tips": ("Stylus tips (6-pack)", "LUM-TIP-06", 1200),
    "mat": ("Lumen Desk Mat", "LUM-MAT-01", 2400),
    "dock": ("Lumen Charging Dock", "LUM-DCK-01", 4500),
    "case": ("Lumen Pen Case", "LUM-CSE-01", 1900),
}
PRODUCT_CODES = tuple(PRODUCTS)

TIER_THRESHOLDS = (("platinum", 8000), ("gold", 4000), ("silver", 1500), ("bronze", 0))
"""Lifetime points needed for each tier, highest first."""


@dataclass(frozen=True)
class Zone:
    """Where a customer lives: time zone, locale, name pool, phone numbering and weight."""

    time_zone: str
    locale: str
    names: str
    phone: str | None
    """``nanp`` (+1 ... 555-01xx), ``uk`` (+44 7700 900xxx) or None: no reserved
    fictional range we are sure of, so those customers have no phone number."""
    weight: int
    area_codes: tuple[str, ...] = ()


ZONES = (
    Zone("America/New_York", "en-US", "en", "nanp", 24, ("212", "617", "305")),
    Zone("America/Chicago", "en-US", "en", "nanp", 12, ("312", "214")),
    Zone("America/Denver", "en-US", "en", "nanp", 5, ("303",)),
    Zone("America/Los_Angeles", "en-US", "en", "nanp", 20, ("415", "206", "310")),
    Zone("Pacific/Honolulu", "en-US", "en", "nanp", 2, ("808",)),
    Zone("America/Toronto", "en-CA", "en", "nanp", 7, ("416", "613")),
    Zone("America/St_Johns", "en-CA", "en", "nanp", 2, ("709",)),
    Zone("America/Mexico_City", "es-MX", "es", None, 5),
    Zone("America/Bogota", "es-CO", "es", None, 3),
    Zone("America/Sao_Paulo", "pt-BR", "pt", None, 9),
    Zone("Europe/London", "en-GB", "en", "uk", 22),
    Zone("Europe/Dublin", "en-IE", "en", None, 4),
    Zone("Europe/Berlin", "de-DE", "de", None, 14),
    Zone("Europe/Paris", "fr-FR", "fr", None, 9),
    Zone("Europe/Madrid", "es-ES", "es", None, 6),
    Zone("Europe/Amsterdam", "nl-NL", "nl", None, 5),
    Zone("Europe/Stockholm", "sv-SE", "sv", None, 3),
    Zone("Africa/Lagos", "en-NG", "yo", None, 4),
    Zone("Africa/Johannesburg", "en-ZA", "en", None, 3),
    Zone("Asia/Dubai", "en-AE", "ar", None, 3),
    Zone("Asia/Kolkata", "en-IN", "hi", None, 16),
    Zone("Asia/Kathmandu", "ne-NP", "hi", None, 1),
    Zone("Asia/Singapore", "en-SG", "zh", None, 5),
    Zone("Asia/Tokyo", "ja-JP", "ja", None, 9),
    Zone("Asia/Seoul", "ko-KR", "ko", None, 3),
    Zone("Australia/Sydney", "en-AU", "en", None, 10),
    Zone("Australia/Perth", "en-AU", "en", None, 2),
    Zone("Pacific/Auckland", "en-NZ", "en", None, 3),
)

# pool: (first names, last names)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        (
            "Olivia",
            "Liam",
            "Amelia",
            "Noah",
            "Isla",
            "Jack",
            "Ava",
            "Ethan",
            "Grace",
            "Lucas",
            "Chloe",
            "Henry",
            "Ruby",
            "Owen",
            "Harper",
            "Samuel",
            "Zoe",
            "Daniel",
            "Ella",
            "Caleb",
        ),
        (
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Taylor",
            "Walker",
            "Clarke",
            "Wright",
            "Robinson",
            "Thompson",
            "Murphy",
            "Kelly",
            "Campbell",
            "Hughes",
            "Bennett",
            "Reid",
        ),
    ),
    "es": (
        ("Mateo", "Valentina", "Santiago", "Camila", "Sebastián", "Lucía", "Diego", "Martina", "Alejandro", "Sofía"),
        ("García", "Martínez", "Rodríguez", "López", "Hernández", "Gómez", "Díaz", "Torres"),
    ),
    "pt": (
        ("Gabriel", "Ana", "Rafael", "Mariana", "Thiago", "Beatriz", "Felipe", "Larissa"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Almeida", "Ferreira"),
    ),
    "de": (
        ("Lena", "Jonas", "Hannah", "Lukas", "Mia", "Felix", "Leonie", "Paul", "Anna", "Maximilian"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner"),
    ),
    "fr": (
        ("Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Camille", "Arthur"),
        ("Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Girard", "Roux"),
    ),
    "nl": (
        ("Sanne", "Daan", "Femke", "Bram", "Lotte", "Sem"),
        ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "de Boer"),
    ),
    "sv": (
        ("Elin", "Oskar", "Maja", "Axel", "Ebba", "Hugo"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson"),
    ),
    "yo": (
        ("Adebayo", "Funmilayo", "Chinedu", "Ngozi", "Tunde", "Amaka"),
        ("Adeyemi", "Okafor", "Balogun", "Eze", "Ogunleye", "Nwosu"),
    ),
    "ar": (
        ("Omar", "Layla", "Yusuf", "Mariam", "Khalid", "Noura"),
        ("Al-Mansouri", "Haddad", "Khoury", "Nasser", "Saleh", "Farouk"),
    ),
    "hi": (
        ("Aarav", "Ananya", "Vivaan", "Diya", "Arjun", "Isha", "Rohan", "Kavya", "Aditya", "Meera"),
        ("Sharma", "Gupta", "Iyer", "Reddy", "Nair", "Mehta", "Kapoor", "Desai", "Rao", "Joshi"),
    ),
    "zh": (
        ("Wei", "Mei Ling", "Jun", "Xin Yi", "Hao", "Hui Min"),
        ("Tan", "Lim", "Lee", "Ng", "Wong", "Chua"),
    ),
    "ja": (
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura"),
        ("Sato", "Suzuki", "Takahashi", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi"),
    ),
    "ko": (
        ("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun", "Su-ah"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang"),
    ),
}

EMAIL_DOMAINS = ("example.com", "example.org")
CANCEL_REASONS = (
    "too expensive",
    "not using it enough",
    "switched to another app",
    "missing a feature I need",
    "only needed it for a project",
)
