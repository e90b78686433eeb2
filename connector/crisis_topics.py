"""What a negative interaction is about, as crisis topics: its hashtags, else its key terms.

A topic is a folded string: ``#estafa`` for a hashtag (``#Estafa`` and ``#ESTAFÁ`` are the
same topic), a bare word such as ``reembolso`` for a key term. Key terms are only taken
from texts without hashtags: when people tag a burst, the tag names it better than words.

Key terms are content words of four letters or more that are neither stopwords (Spanish,
English) nor the words nearly every complaint uses (pedido, order, servicio, hola…): those
would turn every busy day into a crisis. A term is a topic only in the sense that it is
counted; it raises a crisis only when many negative interactions share it inside the
window, far above its own baseline (see :mod:`connector.crisis`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_HASHTAGS = 8
MAX_TERMS = 12
MIN_TERM_LENGTH = 4
MAX_TOPIC_LENGTH = 160

# Not after a word character, "/" or "&": URL fragments (/#top) and HTML entities (&#39;).
_HASHTAG = re.compile(r"(?<![\w/&#])#(\w+)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Folded (lower case, no accents); words under four letters are never terms anyway.
STOPWORDS_ES = _words(
    """
    algo alguien algun alguna algunas alguno algunos ante antes aqui aquel aquella aquellas
    aquello aquellos asi aunque bajo bastante cada casi cierto como con contra cual cuales
    cualquier cuando cuanto desde donde durante ella ellas ello ellos entonces entre era
    eran eres esa esas ese eso esos esta estaba estaban estado estamos estan estar estas
    este esto estos estoy fue fueron fui hace hacen hacer hacia hasta hay haya hemos
    luego mas menos mientras mismo mucha muchas mucho muchos muy nada nadie nosotros
    nuestra nuestro nunca otra otras otro otros para pero poco porque pues puede pueden
    quien quienes segun sera siempre sido sino sobre solo somos suya suyo tambien tanto
    tenemos tener tengo tiene tienen toda todas todavia todo todos tras tuve usted ustedes
    vamos voy vosotros yo
    """
)
STOPWORDS_EN = _words(
    """
    about above after again against also always another anyone anything around because
    been before being below between both cannot could didn does doesn doing done down
    during each either else even ever every from further have having here hers herself
    himself into itself just like made make many more most much must myself never none
    nothing once only other ours ourselves over own same should since some someone
    something still such than that their theirs them themselves then there these they
    this those through under until upon very want wants was were what when where which
    while whom whose will with without would your yours yourself yourselves
    """
)
# What nearly every complaint says, whatever it is about: shared by any busy day's mentions.
COMMON_COMPLAINT_WORDS = _words(
    """
    pedido pedidos orden order orders producto productos product products servicio
    servicios service services cliente clientes customer customers hola hello gracias
    thanks thank please favor porfa ayuda help support soporte atencion empresa company
    compra compras purchase cuenta account problema problemas problem problems respuesta
    respuestas answer reply responde responden contestan contesta esperando espera
    waiting wait sigo dias days semana semanas week weeks hoy ayer today yesterday
    horas hours mal malo mala bien good bad peor worst terrible horrible pesimo pesima
    verguenza shame nadie nobody tienda store equipo team gente people veces time times
    llegado llego llega llegar arrived arrive delivery entrega envio paquete package
    """
)
NEVER_TERMS = STOPWORDS_ES | STOPWORDS_EN | COMMON_COMPLAINT_WORDS


def fold(text: str) -> str:
    """Lower-case and strip accents, so spellings of one word compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def hashtags(text: str) -> list[str]:
    """The folded hashtags of ``text`` (``#Estafa`` → ``#estafa``), first occurrence first."""
    found: list[str] = []
    for match in _HASHTAG.finditer(_URL.sub(" ", text)):
        tag = "#" + fold(match.group(1))
        if any(ch.isalpha() for ch in tag) and tag not in found:  # #1 is a rank, not a topic
            found.append(tag[:MAX_TOPIC_LENGTH])
    return found[:MAX_HASHTAGS]


def key_terms(text: str, excluded: Iterable[str] = ()) -> list[str]:
    """Content words of ``text`` (folded, ≥ 4 letters, no stopwords), first occurrence first."""
    never = NEVER_TERMS | frozenset(excluded)
    cleaned = _MENTION.sub(" ", _URL.sub(" ", text))
    found: list[str] = []
    for match in _WORD.finditer(cleaned):
        word = fold(match.group(0))
        if len(word) >= MIN_TERM_LENGTH and word not in never and word not in found:
            found.append(word[:MAX_TOPIC_LENGTH])
    return found[:MAX_TERMS]


def topics_of(text: str, excluded_terms: Iterable[str] = ()) -> list[str]:
    """A text's topics: its hashtags, or its key terms when it has none."""
    return hashtags(text) or key_terms(text, excluded_terms)


def brand_words(names: Iterable[str | None]) -> frozenset[str]:
    """The folded words of the brand's names and handles: never a key term (every mention has them)."""
    return frozenset(fold(word) for name in names if name for word in _WORD.findall(name))


def display_topic(topic: str) -> str:
    """How a topic reads in alerts and explanations: ``#estafa`` or ``"reembolso"``."""
    return topic if topic.startswith("#") else f'"{topic}"'
