"""MongoDB's text analysis, shared by what mirrors it: the delimiters that cut words, case and diacritic
folding one code point at a time, the Snowball stemmers, and the stop-word lists of the four languages the
product speaks (MongoDB's own, src/mongo/db/fts/stop_words_*.txt). The embedded store's ``$text``
(infra.embedded.text_search) and the messages' search words (pipelines.messages.words) both read them, so
that a word is cut, folded and stemmed the same way wherever it is."""
from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache

import regex
import snowballstemmer

# Unicode delimiters (MongoDB's unicode tokenizer). In English the apostrophe is part of a word ("don't");
# in the other languages it cuts ("l'élève" is "l" + "élève").
_DELIMITER_CLASS = (r"\p{White_Space}\p{Dash}\p{Hyphen}\p{Quotation_Mark}\p{Terminal_Punctuation}"
                    r"\p{Pattern_Syntax}\p{Sentence_Terminal}")
DELIMITERS = regex.compile(f"[{_DELIMITER_CLASS}]+")
ENGLISH_DELIMITERS = regex.compile(f"[[{_DELIMITER_CLASS}]--[']]+", flags=regex.V1)
_DIACRITIC = regex.compile(r"\p{Diacritic}")

# The languages a message's text may be stored in, by MongoDB's names (what a text index's language
# field accepts; an unknown one makes a real MongoDB refuse the insert), and the page's codes for them.
LANGUAGE_OF_CODE = {"en": "english", "fr": "french", "es": "spanish", "de": "german"}
CODE_OF_LANGUAGE = {name: code for code, name in LANGUAGE_OF_CODE.items()}
NO_LANGUAGE = "none"  # words are not stemmed, and no word is a stop word

STOP_WORDS = {
    "english": frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can't cannot could couldn't did didn't do does doesn't doing don't down during each few
for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd
she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those through to too under until up very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's
with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
""".split()),
    "french": frozenset("""
a ai aie aient aies ait alors as au aucun aura aurai auraient aurais aurait auras aurez auriez aurions
aurons auront aussi autre aux avaient avais avait avant avec avez aviez avions avoir avons ayant ayez
ayons bon c car ce ceci cela ces cet cette ceux chaque ci comme comment d dans de dedans dehors depuis
des deux devoir devrait devrez devriez devrions devrons devront dois doit donc dos droite du dès début
dù elle elles en encore es est et eu eue eues eurent eus eusse eussent eusses eussiez eussions eut eux
eûmes eût eûtes faire fais faisez fait faites fois font force furent fus fusse fussent fusses fussiez
fussions fut fûmes fût fûtes haut hors ici il ils j je juste l la le les leur leurs lui là m ma
maintenant mais me mes moi moins mon mot même n ne ni nom nommé nommée nommés nos notre nous nouveau
nouveaux on ont ou où par parce parole pas personne personnes peu peut plupart pour pourquoi qu quand
que quel quelle quelles quels qui s sa sans se sera serai seraient serais serait seras serez seriez
serions serons seront ses seulement si sien soi soient sois soit sommes son sont sous soyez soyons suis
sujet sur t ta tandis te tellement tels tes toi ton tous tout trop très tu un une valeur voient vois
voit vont vos votre vous vu y à ça étaient étais était étant état étiez étions été étés êtes être
""".split()),
    "spanish": frozenset("""
a al algo algunas algunos ante antes como con contra cual cuando de del desde donde durante e el ella ellas
ellos en entre era erais eran eras eres es esa esas ese eso esos esta estaba estabais estaban estabas estad
estada estadas estado estados estamos estando estar estaremos estará estarán estarás estaré estaréis estaría
estaríais estaríamos estarían estarías estas este estemos esto estos estoy estuve estuviera estuvierais
estuvieran estuvieras estuvieron estuviese estuvieseis estuviesen estuvieses estuvimos estuviste estuvisteis
estuviéramos estuviésemos estuvo está estábamos estáis están estás esté estéis estén estés fue fuera fuerais
fueran fueras fueron fuese fueseis fuesen fueses fui fuimos fuiste fuisteis fuéramos fuésemos ha habida
habidas habido habidos habiendo habremos habrá habrán habrás habré habréis habría habríais habríamos habrían
habrías habéis había habíais habíamos habían habías han has hasta hay haya hayamos hayan hayas hayáis he hemos
hube hubiera hubierais hubieran hubieras hubieron hubiese hubieseis hubiesen hubieses hubimos hubiste
hubisteis hubiéramos hubiésemos hubo la las le les lo los me mi mis mucho muchos muy más mí mía mías mío míos
nada ni no nos nosotras nosotros nuestra nuestras nuestro nuestros o os otra otras otro otros para pero poco
por porque que quien quienes qué se sea seamos sean seas seremos será serán serás seré seréis sería seríais
seríamos serían serías seáis sido siendo sin sobre sois somos son soy su sus suya suyas suyo suyos sí también
tanto te tendremos tendrá tendrán tendrás tendré tendréis tendría tendríais tendríamos tendrían tendrías tened
tenemos tenga tengamos tengan tengas tengo tengáis tenida tenidas tenido tenidos teniendo tenéis tenía teníais
teníamos tenían tenías ti tiene tienen tienes todo todos tu tus tuve tuviera tuvierais tuvieran tuvieras
tuvieron tuviese tuvieseis tuviesen tuvieses tuvimos tuviste tuvisteis tuviéramos tuviésemos tuvo tuya tuyas
tuyo tuyos tú un una uno unos vosotras vosotros vuestra vuestras vuestro vuestros y ya yo él éramos
""".split()),
    "german": frozenset("""
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anderm andern
anders auch auf aus bei bin bis bist da damit dann das dass dasselbe dazu daß dein deine deinem deinen deiner
deines dem demselben den denn denselben der derer derselbe derselben des desselben dessen dich die dies diese
dieselbe dieselben diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines einig
einige einigem einigen einiger einiges einmal er es etwas euch euer eure eurem euren eurer eures für gegen
gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im
in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen
keiner keines können könnte machen man manche manchem manchen mancher manches mein meine meinem meinen meiner
meines mich mir mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen
seiner seines selbst sich sie sind so solche solchem solchen solcher solches soll sollte sondern sonst um und
uns unse unsem unsen unser unses unter viel vom von vor war waren warst was weg weil weiter welche welchem
welchen welcher welches wenn werde werden wie wieder will wir wird wirst wo wollen wollte während würde würden
zu zum zur zwar zwischen über
""".split()),
}


def split_words(text: str, language: str) -> list[str]:
    """The words of a text as MongoDB cuts them for that language (empty pieces dropped)."""
    pattern = ENGLISH_DELIMITERS if language == "english" else DELIMITERS
    return [word for word in pattern.split(text) if word]


@lru_cache(maxsize=10_000)
def _lower_char(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char  # one code point to one, like MongoDB's case map


@lru_cache(maxsize=10_000)
def _strip_char(char: str) -> str:
    """The code point without its diacritics ("" for a pure diacritic), as MongoDB's generated map:
    decompose, drop the Diacritic marks, recompose, and keep the result only if it is one code point."""
    if _DIACRITIC.match(char):
        return ""
    bare = unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", char)
                                                 if not _DIACRITIC.match(c)))
    return bare if len(bare) == 1 else char


def lower(text: str) -> str:
    return "".join(map(_lower_char, text))


def strip_diacritics(text: str) -> str:
    return "".join(map(_strip_char, text))


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form."""
    return strip_diacritics(lower(text))


def stem(language: str, word: str) -> str:
    """The Snowball stem of a lower-cased word in that language (MongoDB's name); the word itself for "none"."""
    return word if language == NO_LANGUAGE else _stem(language, word)


@lru_cache(maxsize=100_000)
def _stem(algorithm: str, word: str) -> str:
    return _stemmer(algorithm).stemWord(word)


_local = threading.local()  # a Snowball stemmer keeps its word in itself while it works: one per thread


def _stemmer(algorithm: str):
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if algorithm not in stemmers:
        stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return stemmers[algorithm]
