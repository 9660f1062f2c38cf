"""The content filter's benchmark material, shared by bench/filters.py (the scan alone) and bench/loadgen.py
(the ``moderation`` scenario, through the whole system): a realistic group's rules (200 word rules, 20
regexes, 3 link rules) and 500-character French messages. Plain data: nothing here imports the server.
"""
from __future__ import annotations

import itertools

# 200 word rules: French-ish insults and spam words (made up where needed, so the list stays tame), with
# the shapes moderators write: plain words, prefixes (con*), suffixes (*con), infixes, phrases.
_STEMS = ("connard conasse abruti crétin débile enfoiré salaud ordure pourriture vaurien racaille minable "
          "imbécile andouille bouffon guignol blaireau boloss tocard naze nullard fumier charogne raclure "
          "ducon tanche gogol baltringue cassos clochard pignouf plouc péquenaud rustre goujat malappris "
          "butor mufle sagouin saligaud scélérat canaille fripouille gredin coquin bandit escroc arnaqueur "
          "filou voleur menteur tricheur faussaire usurier casino viagra cialis bitcoin crypto forex "
          "loterie héritage").split()
_PHRASES = ("fils de pute", "ta gueule", "va te faire", "nique ta", "sale con", "gros porc", "pauvre type",
            "espèce de", "tête de noeud", "face de rat", "argent facile", "gagnez de l'argent",
            "cliquez ici", "offre limitée", "travail à domicile", "devenez riche", "sans effort",
            "cadeau gratuit", "vous avez gagné", "crédit rapide")


def word_patterns() -> list[tuple[str, str]]:
    """The 200 word rules, as (pattern, action)."""
    patterns = list(_STEMS)
    patterns += [f"{s[:5]}*" for s in _STEMS[:30]]            # prefixes
    patterns += [f"*{s[-5:]}" for s in _STEMS[30:50]]         # suffixes
    patterns += ["*connard*", "*salop*", "*encul*", "*merd*", "*pétass*", "*branl*", "*batard*", "*bordel*",
                 "*chiott*", "*couill*"]                      # infixes
    patterns += list(_PHRASES)
    patterns += [f"{w}{n}" for n in range(200) for w in ("spam", "promo")][:200 - len(patterns)]
    assert len(patterns) == 200, len(patterns)
    actions = ("mask", "flag", "mask", "hold", "block")
    return [(p, actions[i % len(actions)]) for i, p in enumerate(patterns)]


REGEXES = (
    r"\b(?:\+33|0)[1-9](?:[ .-]?\d{2}){4}\b",                 # French phone numbers
    r"\b[\w.+-]+@[\w-]+\.[a-z]{2,}\b",                        # e-mail addresses
    r"\bfr\d{2}(?: ?[0-9a-z]{4}){5}",                         # IBAN-like
    r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",               # card numbers
    r"\b(?:bit\.ly|tinyurl\.com|goo\.gl)/\w+",                # shorteners
    r"\b(?:argent|cash)\s+(?:facile|rapide)\b",
    r"\bv+i+a+g+r+a+\b",
    r"\bc+[o0]+n+a+r+d+s?\b",
    r"\bp+[u]+t+[e3]+s?\b",
    r"\b(?:wh?atsapp|telegram)\s*:?\s*\+?\d",
    r"\b(?:gagn|gagne)\w*\s+\d+\s*(?:€|euros?)",
    r"\b\d+\s*(?:€|euros?)\s+(?:par|/)\s*(?:jour|semaine)",
    r"\b(?:t|tg|ftg|ntm|fdp)\b",
    r"\bn[i1]qu?e?\s*(?:ta|sa)\s*m[eè]re\b",
    r"\bs[a@]l[o0]p[e3]\b",
    r"\b(?:porn|xxx|sexe?)\w*",
    r"\bcrypto\w*\s+(?:gratuit|offert)",
    r"\b(?:inscri(?:s|vez)-?vous|abonnez-?vous)\s+(?:ici|maintenant)",
    r"\b(?:code|coupon)\s+promo\s*:?\s*[a-z0-9]{4,}",
    r"(?:\$|€){3,}",
)

LINKS = (("l0", "bit.ly", "flag"), ("l1", "arnaque-exemple.fr", "block"), ("l2", "casino-en-ligne.com", "block"))


def regex_patterns() -> list[tuple[str, str]]:
    """The 20 regex rules, as (pattern, action)."""
    assert len(REGEXES) == 20, len(REGEXES)
    return [(p, ("flag", "hold", "block")[i % 3]) for i, p in enumerate(REGEXES)]


def group_rules() -> list[dict[str, str]]:
    """The 220 rules (200 word, 20 regex) as the REST API takes them (POST /api/groups/{id}/filters)."""
    return ([{"kind": "word", "pattern": p, "action": a} for p, a in word_patterns()]
            + [{"kind": "regex", "pattern": p, "action": a} for p, a in regex_patterns()])


_CLEAN = (
    "Salut tout le monde ! Je voulais vous dire que la réunion de jeudi est déplacée à vendredi matin, "
    "parce que la moitié de l'équipe sera en déplacement à Lyon. On se retrouve donc à 9 h 30 dans la "
    "grande salle du deuxième étage, celle qui donne sur le jardin. Pensez à apporter vos ordinateurs "
    "portables et les chiffres du trimestre : Élodie présentera le bilan, puis on discutera du budget de "
    "l'année prochaine. S'il reste du temps, on parlera aussi du séminaire d'été à Mâcon. Merci à tous et "
    "bonne soirée, à demain !",
    "Bonjour Mathieu, j'ai relu ton rapport hier soir et je le trouve très clair. Deux remarques quand "
    "même : le graphique de la page 4 mélange les ventes de 2023 et de 2024, et le paragraphe sur la "
    "concurrence mériterait une source. Sinon, c'est du bon travail ; tu peux l'envoyer au client dès que "
    "tu as corrigé ça. Au fait, est-ce que tu as pensé à réserver le train pour Bordeaux ? Les billets "
    "augmentent vite en cette saison, et la dernière fois nous avons payé presque le double. Bonne "
    "journée et à bientôt, Camille.",
    "Coucou ! Ce week-end on organise un pique-nique au parc de la Tête d'Or si la météo le permet. "
    "Chacun apporte quelque chose : des salades, des fruits, du fromage, des boissons fraîches. Les "
    "enfants sont évidemment les bienvenus, il y a une aire de jeux juste à côté. On se retrouve vers "
    "midi près de l'entrée principale, du côté du boulevard. Si vous avez des nappes ou des couvertures, "
    "prenez-les, il n'y en aura jamais trop. Dites-moi qui vient pour que je prévoie assez de gobelets, "
    "merci et à samedi !",
)
_HITS = (
    "Franchement ce mec est un vrai connard, il m'a encore piqué ma place sur le parking ce matin sans "
    "même s'excuser. Je lui ai dit que ce n'était pas correct et il m'a répondu de me mêler de mes "
    "affaires. Je ne sais plus quoi faire, j'ai déjà prévenu la direction deux fois et rien ne bouge. "
    "Si quelqu'un a une idée, je suis preneur, parce que là je commence vraiment à perdre patience avec "
    "lui et avec toute cette histoire. Bref, désolé pour le coup de gueule, passez une bonne journée "
    "quand même, on se voit demain à la cantine.",
    "Gagnez de l'argent facile depuis chez vous ! Travail à domicile, sans effort, jusqu'à 500 euros par "
    "jour garantis. Cliquez ici : https://bit.ly/argent-rapide ou écrivez-moi sur whatsapp +33 6 12 34 56 "
    "78 pour recevoir votre cadeau gratuit. Offre limitée aux cinquante premiers inscrits, ne ratez pas "
    "cette occasion unique de devenir riche en quelques semaines seulement. Code promo : RICHE2024. "
    "Des centaines de personnes ont déjà changé de vie grâce à notre méthode, pourquoi pas vous ? "
    "Inscrivez-vous maintenant !",
)


def _fit(text: str) -> str:
    assert 450 <= len(text) <= 560, len(text)
    return text


MESSAGES = [("clean", _fit(t)) for t in _CLEAN] + [("hits", _fit(t)) for t in _HITS]

# For the load generator's moderation scenario: more clean messages, and two whose only hits are ``mask``
# (guignol, menteur) and ``flag`` (tricheur) rules, so that they are stored and delivered (masked or not)
# like the clean ones; none of them may be blocked or held.
MORE_CLEAN = (
    "Bonsoir à tous, petit rappel pour la sortie de dimanche : le départ est fixé à 8 heures devant la "
    "mairie, et nous prendrons le chemin des crêtes jusqu'au lac. Comptez environ quatre heures de marche, "
    "avec une pause déjeuner au refuge. Prévoyez de bonnes chaussures, un coupe-vent et au moins deux litres "
    "d'eau par personne, car il n'y a aucune source sur le parcours. Ceux qui n'ont pas de voiture peuvent "
    "me prévenir, je m'occuperai du covoiturage. En cas de pluie, la sortie sera reportée à la semaine "
    "suivante. Bonne fin de soirée !",
    "Merci beaucoup pour la recette de la tarte aux pommes, je l'ai essayée hier et toute la famille a "
    "adoré. J'ai juste ajouté un peu de cannelle et remplacé la moitié du sucre par du miel, ce qui donne "
    "un goût plus doux. La pâte était parfaite, bien croustillante sur les bords. La prochaine fois, je "
    "tenterai la version avec des poires et des amandes dont tu parlais l'autre jour. Peux-tu "
    "me donner les proportions exactes ? Je voudrais la préparer pour l'anniversaire de ma "
    "grand-mère le mois prochain. Bises !",
    "Bonjour l'équipe, la mise à jour du serveur de fichiers aura lieu ce soir entre 20 h et 22 h. "
    "Pendant cette période, les dossiers partagés ne seront pas accessibles et la messagerie risque d'être "
    "un peu lente. Pensez à enregistrer vos documents avant de partir. "
    "Si vous constatez un problème demain matin, contactez le support par "
    "téléphone ou passez directement au bureau du service informatique, au rez-de-chaussée. Nous "
    "ferons le nécessaire pour que tout fonctionne à nouveau rapidement. Merci de votre compréhension.",
)
MASKED = (
    "Je te jure, ce guignol du service comptable m'a encore renvoyé ma note de frais pour une virgule mal "
    "placée. Trois semaines que j'attends mon remboursement, et il me répond chaque fois qu'il manque un "
    "justificatif alors que tout est dans le dossier. Quel menteur, honnêtement. J'en ai parlé à ma "
    "responsable, qui va essayer de voir avec son chef, mais je ne me fais pas trop d'illusions. Bon, "
    "je vais prendre un café et respirer un grand coup avant la réunion de cet après-midi. Vous venez "
    "avec moi à la machine ? Ça me fera du bien de parler d'autre chose."
)
FLAGGED = (
    "Vous avez vu le match d'hier soir ? Franchement, leur attaquant est un tricheur de première, il "
    "s'est laissé tomber dans la surface au moins trois fois et l'arbitre n'a rien vu. Heureusement que "
    "la vidéo a fini par annuler le penalty. À part ça, notre équipe a plutôt bien joué en deuxième "
    "période, avec un milieu de terrain enfin solide et une défense qui n'a presque rien laissé passer. "
    "Si on continue comme ça, on a nos chances pour la qualification. On se retrouve au bar samedi pour "
    "le prochain match ? J'apporterai les écharpes et les drapeaux !"
)


def send_texts(hit_share: float) -> list[tuple[str, str]]:
    """(label, text) in the order a sender cycles through them: the clean messages in turn, and at
    ``hit_share`` of the positions (one in ``round(1 / hit_share)``) the masked and the flagged message
    alternately."""
    clean = itertools.cycle(_fit(t) for t in _CLEAN + MORE_CLEAN)
    if hit_share <= 0:
        return [("clean", next(clean)) for _ in _CLEAN + MORE_CLEAN]
    n = max(1, round(1 / hit_share))
    return [("masked", _fit(MASKED)) if k == 0 else ("flagged", _fit(FLAGGED)) if k == n else ("clean", next(clean))
            for k in range(2 * n)]
