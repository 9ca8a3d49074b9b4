"""Password hashing with argon2id, and the password policy.

Policy (NIST SP 800-63B in spirit): at least 12 characters, no upper limit below 200, no
composition rules, and the password must not be easy to guess. "Easy to guess" is decided by
zxcvbn (Dropbox's estimator, shipped with its own frequency lists of common passwords, names and
words, so it works offline): the estimated number of guesses must reach 10^10, zxcvbn's score 4.
zxcvbn's lists are English; the words Swedish staff actually build passwords from (seasons,
"välkommen", "lösenord", the region's own names, recent years) are added as context words, as
are the user's own username, name and e-mail address.

Hash parameters: argon2id, m = 19 MiB (19,456 KiB), t = 2, p = 1 — OWASP's Password Storage
Cheat Sheet recommendation for argon2id. argon2-cffi's default (RFC 9106's second recommended
option, m = 64 MiB, t = 3, p = 4) cost 0.7–0.9 s of wall clock a login on the shared 2-core
machine (bench/login.py; its four lanes fight for two cores, and every concurrent login holds
64 MiB); these parameters cost about a fifth of that and still make each guess fill 19 MiB of
memory. Stored hashes made with other parameters are rehashed on the next successful login
(``needs_rehash``; ``riskreg.auth.services.authenticate``). Details in docs/security.md.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

#: The documented parameters (docs/security.md); tests swap ``_hasher`` for a cheap one.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19 * 1024
ARGON2_PARALLELISM = 1


def production_hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_COST_KIB,
        parallelism=ARGON2_PARALLELISM,
        type=Type.ID,
    )


_hasher = production_hasher()

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
#: zxcvbn score 4: at least 10^10 guesses ("very unguessable").
MIN_PASSWORD_SCORE = 4
#: zxcvbn's matching is superlinear; it refuses more than 72 characters. A password longer
#: than that is judged on its first 72 characters, which is already far beyond any list.
_ZXCVBN_MAX = 72

#: Words zxcvbn's English lists lack but that Swedish passwords are made of. Order is rank:
#: the earlier a word, the fewer guesses it costs an attacker.
LOCAL_WORDS: tuple[str, ...] = (
    "lösenord", "losenord", "välkommen", "valkommen", "sommar", "vinter", "våren", "varen",
    "hösten", "hosten", "hemligt", "hemlig", "password", "qwertyuiopå", "asdfghjklöä",
    "region", "regionen", "riskreg", "internkontroll", "sjukhus", "sjukhuset", "vårdcentral",
    "västmanland", "vastmanland", "västerås", "vasteras", "sverige", "stockholm", "göteborg",
    "malmö", "uppsala", "januari", "februari", "mars", "april", "maj", "juni", "juli",
    "augusti", "september", "oktober", "november", "december", "måndag", "tisdag", "onsdag",
    "torsdag", "fredag", "lördag", "söndag", "julafton", "midsommar", "påsk",
    *(str(year) for year in range(2039, 1939, -1)),
)

#: Passwords refused outright whatever zxcvbn thinks (kept from the first policy).
COMMON_PASSWORDS = frozenset(
    {
        "password1234", "lösenord1234", "losenord1234", "123456789012", "qwertyuiopå",
        "sommar2025!!", "vinter2025!!", "varen2025!!!", "hosten2025!!", "administrator",
        "qwerty123456", "välkommen123", "valkommen123", "password123!", "abc123abc123",
    }
)

_PATTERN_HINTS = {
    "repeat": "upprepningar",
    "sequence": "talföljder som 1234 eller abcd",
    "spatial": "tangentbordsmönster som qwerty",
    "date": "datum",
    "regex": "årtal",
}

# zxcvbn keeps the context words in a module-level dictionary while it runs; a lock keeps two
# threads of one worker from seeing each other's words.
_zxcvbn_lock = threading.Lock()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


#: The dummy hash, per hasher: made with the parameters in use, so verifying it costs what
#: verifying a real (current) hash costs.
_DUMMY_HASHES: dict[tuple[int, int, int, Type], str] = {}


def burn_verification_time(password: str) -> None:
    """Spend what a real verification costs, so an unknown username answers as slowly as a
    known one and response times do not reveal which usernames exist."""
    hasher = _hasher
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.type)
    dummy = _DUMMY_HASHES.get(key)
    if dummy is None:
        dummy = _DUMMY_HASHES[key] = hasher.hash("riskreg-dummy-password-for-timing")
    verify_password(dummy, password)


def strength_problems(password: str, context: Iterable[str] = ()) -> list[str]:
    """Why zxcvbn considers the password easy to guess (empty when it is not).

    ``context`` holds words of this user (username, name, e-mail) that must not carry it.
    """
    if password.lower() in COMMON_PASSWORDS:
        return ["Lösenordet är för vanligt; välj ett annat."]
    words = [*_context_words(context), *LOCAL_WORDS]
    with _zxcvbn_lock:
        result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=words)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return []
    found: list[str] = []
    for match in result["sequence"]:
        pattern = match["pattern"]
        if pattern == "dictionary":
            if match.get("dictionary_name") == "passwords":
                hint = "vanliga lösenord"
            elif match.get("dictionary_name") == "user_inputs":
                hint = "ditt namn eller ord som årstider, orter och årtal"
            else:
                hint = "vanliga ord och namn"
        else:
            hint = _PATTERN_HINTS.get(pattern, "")
        if hint and hint not in found:
            found.append(hint)
    message = "Lösenordet är för vanligt eller lätt att gissa"
    if found:
        message += " (det bygger på " + ", ".join(found) + ")"
    return [
        message + ". Välj ett längre lösenord, gärna tre eller fyra ord som inte hör ihop."
    ]


def _context_words(context: Iterable[str]) -> list[str]:
    words: list[str] = []
    for item in context:
        item = (item or "").strip().lower()
        if not item:
            continue
        # "Karin Åström" -> also "karin astrom"; "karin.astrom@region.se" -> "karin", "region"
        for variant in dict.fromkeys((item, _fold(item))):
            words.append(variant)
            for part in variant.replace("@", " ").replace(".", " ").replace("-", " ").split():
                if len(part) >= 3:
                    words.append(part)
    return words


def _fold(text: str) -> str:
    """Drop diacritics: å -> a, ö -> o (what people type where a form refuses åäö)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
