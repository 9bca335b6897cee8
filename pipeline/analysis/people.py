"""People: who is named in an episode, merged across spellings, with a role.

Names come from the feed's ``podcast:person`` tags, the show notes and the
transcript (spaCy PERSON entities and speaker labels). "Antonio (Tony) Belgrave",
"Tony Belgrave" and "Antonio Belgrave" are one person. Roles: the feed's, else how
the person is introduced ("I'm your host ...", "my guest today is ...",
"joined by ...", "led by ...", "thanks for having me, ..."), else "mentioned".
Past and future guests ("last week's guest ...", "next week we'll have ...") are
mentioned: they are not on this episode. Whoever a guest thanks while saying they are on
the show is the host; callers, and names listed after "my guests today are", are guests.

Text cues also find people spaCy misses ("Ira Chaleff talks about ...", "my colleague
...", "Kelley's model"); a lone word is kept only with such a cue, an introduction, a
title or a fuller name to merge into, so "Manchester" or "Hope" do not become people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

HOST, GUEST, MENTIONED = "host", "guest", "mentioned"
RANK = {HOST: 0, GUEST: 1, MENTIONED: 2}
WRITTEN = {"feed", "show-notes"}  # sources whose spelling beats speech recognition's

# Common English nicknames, so "Tony Belgrave" and "Antonio Belgrave" meet.
NICKNAMES = {
    "tony": {"antonio", "anthony"},
    "bill": {"william"},
    "will": {"william"},
    "bob": {"robert"},
    "rob": {"robert"},
    "bobby": {"robert"},
    "mike": {"michael"},
    "chris": {"christopher", "christine", "christina"},
    "jim": {"james"},
    "jimmy": {"james"},
    "kate": {"katherine", "kathryn", "catherine"},
    "katie": {"katherine", "catherine"},
    "liz": {"elizabeth"},
    "beth": {"elizabeth"},
    "alex": {"alexander", "alexandra"},
    "sam": {"samuel", "samantha"},
    "dan": {"daniel"},
    "danny": {"daniel"},
    "jon": {"jonathan"},
    "john": {"jonathan"},
    "nick": {"nicholas"},
    "tom": {"thomas"},
    "matt": {"matthew"},
    "andy": {"andrew"},
    "drew": {"andrew"},
    "jen": {"jennifer"},
    "jenny": {"jennifer"},
    "ben": {"benjamin"},
    "joe": {"joseph"},
    "steve": {"stephen", "steven"},
    "dave": {"david"},
    "ed": {"edward"},
    "ted": {"edward"},
    "pat": {"patrick", "patricia"},
    "rick": {"richard"},
    "dick": {"richard"},
    "rich": {"richard"},
    "greg": {"gregory"},
    "jeff": {"jeffrey"},
    "sue": {"susan"},
    "meg": {"margaret"},
    "maggie": {"margaret"},
    "peggy": {"margaret"},
    "vicky": {"victoria"},
    "nat": {"natalie", "nathan"},
}
# Honorifics, and the family-style ones people are nicknamed with ("Uncle Desmond").
TITLES = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "prof",
    "professor",
    "sir",
    "dame",
    "md",
    "phd",
    "rev",
    "reverend",
    "uncle",
    "aunt",
    "auntie",
    "aunty",
    "sister",
    "coach",
    "chef",
    "judge",
    "captain",
    "capt",
    "doctor",
    "sheikh",
    "father",
    "fr",
    "maître",
    "mama",
    "nana",
    "imam",
    "rabbi",
    "pastor",
    "matron",
    "councillor",
    "councilor",
    "senator",
    "mayor",
    "chief",
    "lady",
    "lord",
    # forms of address in other languages: "Doña Lupe", "Herr Brandt", "Whaea Mere"
    "doña",
    "dona",
    "herr",
    "frau",
    "mevrouw",
    "meneer",
    "madame",
    "monsieur",
    "señor",
    "señora",
    "signora",
    "whaea",
    "matua",
    "mbah",
    "umm",
    "oom",
    "tannie",
    # kin as a form of address: "Opa Willem", and never a name standing alone
    "opa",
    "oma",
    "amma",
    "appa",
    "papa",
    "dad",
    "mum",
    "mom",
}


def _words(text: str) -> set[str]:
    return set(text.split())


# Capitalised words that open sentences or frame a name but are never part of one:
# "So Amara", "Dana Whitfield And", "Thanks Mark".
EDGE_WORDS = {
    "a",
    "also",
    "an",
    "and",
    "as",
    "because",
    "but",
    "from",
    "he",
    "hello",
    "her",
    "here",
    "hey",
    "hi",
    "his",
    "honestly",
    "let",
    "let's",
    "like",
    "being",
    "which",
    "better",
    "um",
    "uh",
    "er",
    "erm",
    "how",
    "i",
    "i'm",
    "if",
    "it",
    "it's",
    "look",
    "my",
    "no",
    "now",
    "oh",
    "ok",
    "okay",
    "or",
    "our",
    "right",
    "she",
    "so",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "then",
    "they",
    "this",
    "today",
    "tonight",
    "we",
    "welcome",
    "well",
    "what",
    "when",
    "where",
    "who",
    "why",
    "with",
    "yes",
    "you",
    "your",
    # sentence openers and ways to address a room: "Everyone, what do you think?"
    *_words(
        """everyone everybody anyone someone nobody folks guys listeners team please sorry
        anyway yeah sure first second finally again actually basically obviously seriously
        really listen never just always maybe perhaps sometimes often even still only
        nothing everything something anything nobody's everyone's"""
    ),
}
# Lower-case particles inside surnames ("Ludwig van Beethoven", "Oscar de la Hoya").
PARTICLES = {"de", "da", "di", "du", "van", "von", "der", "den", "del", "della", "la", "le"}
PARTICLES |= {"bin", "bint", "ibn", "ap", "al", "el"}
# Irish: "Donal Ó Riain", "Siobhán Ní Bhriain"
PARTICLES |= set(["Ó", "ó", "Ní", "ní", "Nic", "nic", "Ua"])
# Given names that, standing alone, are far more often a word ("Will you be around?",
# "Hope is not a strategy"): a person only when someone is introduced by it.
WORD_NAMES = _words("will hope grace faith joy patience chance honor honour destiny sunny")
DEPARTMENTS = """sales marketing finance legal operations ops procurement research engineering
    product design management leadership security compliance support accounts dispatch hr
    payroll logistics housekeeping reception catering maintenance"""
# Never a person standing alone: days, seasons, apps ("see you Sunday", "on TikTok").
NOT_ALONE = _words(
    """monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    spring summer autumn winter christmas easter
    tiktok instagram linkedin youtube twitter facebook google zoom slack spotify amazon
    apple netflix uber whatsapp reddit"""
    # words that open a sentence with a comma: "Win, lose, doesn't matter", "God love her"
    """ win god physio"""
    # pronouns and function words spaCy sometimes tags PERSON at a sentence start
    """ it he she they we you this that there here what who"""
    # numbers open sentences too: "Eighty calls."
    """ one two three four five six seven eight nine ten eleven twelve twenty thirty forty
    fifty sixty seventy eighty ninety hundred thousand"""
    # languages and peoples: "he barely spoke English"
    """ english french spanish german japanese chinese portuguese italian dutch polish
    russian arabic hindi korean mandarin cantonese swahili greek turkish welsh irish
    scottish british american frenchman englishman"""
    # departments talk too: "Sales says the leads are rubbish"
    f" {DEPARTMENTS}"
)
# Last words of show, company and place names, not of people ("Frontline Talk").
ORGANISATION_WORDS = _words(
    """talk talks show podcast pod hour edge first club weekly daily live radio tv hub lab
    labs academy institute group ltd inc plc llc company partners media network news times
    journal review magazine university college school bank street road square centre center
    foundation council ministry agency studio studios records press leadership psychology
    marketing sales office resources department team board government hq estate estates
    kitchen kitchens shipping logistics foods solar retail federation union holdings
    capital ventures consulting solutions systems energy farms brewery bakery audio sound
    sessions productions pictures films collective quartet band orchestra ensemble"""
)

UPPER = "A-ZÀ-ÖØ-Þ"
_STOP = "|".join(sorted(re.escape(w.capitalize()) for w in EDGE_WORDS | {"the"}))
_TITLE = (
    r"(?:(?:Dr|Mr|Mrs|Ms|Prof|Professor|Sir|Dame|Uncle|Aunt|Auntie|Sister|Coach|Chef|Judge|"
    r"Captain|Capt|Doctor|Sheikh|Father|Fr|Maître|Mama|Nana|Imam|Rabbi|Pastor)\.?\s+)"
)
# A capitalised word that is not a sentence opener; an initial only before another word.
_WORD = rf"(?!(?:{_STOP})\b)[{UPPER}](?:[\w'’-]+|(?:\.[{UPPER}])*\.(?=\s+[{UPPER}]))"
_PARTICLE = rf"(?:(?:{'|'.join(sorted(PARTICLES))})\s+)"
# A nickname in brackets or quotes: "Antonio (Tony) Belgrave", "Kofi 'KB' Bannerman".
_NICK = rf"(?:\s+\([{UPPER}][\w'’ -]*\)|\s+['‘\"“][{UPPER}][\w’. -]*['’\"”](?=\s))"
_GLUED = r"(?:(?:al|el|ad|ud)-)?"  # "Rania al-Khatib"
NAME = rf"(?P<name>{_TITLE}?{_WORD}{_NICK}?(?:\s+{_PARTICLE}{{0,2}}{_GLUED}{_WORD}){{0,3}})"

MY_NAME = r"(?i:I'm|I\s+am|my\s+name(?:'s|\s+is))"
I_AM = rf"(?:{MY_NAME}|(?i:this\s+is))"
_WE_ARE = r"(?i:I'm|I\s+am|we're|we\s+are)"
_NOW = r"(?i:today|tonight|this\s+week|this\s+episode|now|here|again|in\s+the\s+studio)"
_SHOW = r"(?i:show|podcast|pod|programme|program)"
# A description between commas: "Jamal Whitcombe, head of service at a train operator, ..."
_ASIDE = r"(?:,\s+[^,.!?]{1,60},)"
# What someone is, said before their name: "the soil scientist", "my good friend and
# business coach", "my former student, now a colleague,"
# (never across a preposition: "the manager of a hotel in Whitby" names no one)
_DESCRIBED = r"(?:(?!(?:of|in|from|at|for|with|on|by|to)\b)[a-z][\w'’-]*,?\s+){0,8}?"
_DESCRIBED_AS = rf"(?:(?i:the|my|our|a|an)\s+{_DESCRIBED})"  # "the pastry chef ..."
# "my guest today on The Follower Effect is ...": the show named inside an introduction
# (any capitalised words: a title may hold words no name does, "Team Talk Weekly")
_ON_TITLE = rf"(?:\s+on\s+(?i:the\s+)?[{UPPER}][\w'’-]+(?:\s+[{UPPER}][\w'’-]+){{0,4}})"

HOST_SELF = rf"{I_AM}\s+(?i:your\s+(?:co-?)?host),?\s+{NAME}"  # "I'm your host, Dana ..."

INTRODUCTIONS = [
    # The host introduces themselves, or is thanked by the guest.
    (HOST, HOST_SELF),
    (HOST, rf"{I_AM}\s+{NAME},?\s+(?i:and\s+)?(?:{I_AM}\s+)?(?i:your\s+(?:co-?)?host)"),
    (
        HOST,
        r"(?i:your\s+(?:co-?)?host(?:\s+(?:for\s+)?(?:today|tonight|this\s+week))?"
        rf"(?:,\s+as\s+(?:ever|always|usual),)?(?:\s+(?:is|was))?),?\s+{NAME}",
    ),
    (HOST, rf"(?i:presenting|presented\s+by)(?i:,?\s+as\s+(?:ever|always|usual))?,?\s+{NAME}"),
    (HOST, rf"(?i:it's|it\s+is)\s+(?i:just\s+)?(?i:me),\s+{NAME}"),
    (HOST, rf"(?:^|[.!?]\s+){NAME}\s+(?i:here)\b[.,]"),  # "Rosa Castellanos here."
    (HOST, rf"(?i:I've\s+been)\s+{NAME}"),  # the sign-off: "I've been Rohan Mehta"
    # Not "sponsored and hosted by Buzzsprout" (a hosting company), nor "the awards were
    # hosted by ..." (another event's host)
    (HOST, rf"(?<!sponsored and )(?<!were )(?<!was )(?i:hosted\s+by)\s+{NAME}"),
    (
        HOST,
        r"(?i:\bco-?(?:host|presenter)(?:s|ed\s+by)?(?:\s+for\s+(?:this|the)\s+\w+)?"
        rf"(?:\s+(?:are|is))?),?\s+{NAME}",
    ),
    (HOST, rf"{NAME},\s+(?i:my|our)\s+(?:[a-z]+\s+){{0,2}}?(?i:co-?host)"),
    (HOST, rf"{NAME},?\s+(?i:who's|who\s+is)\s+(?i:co-?hosting)"),
    (HOST, rf"(?i:co-?hosting|co-?presenting)(?:\s+{_NOW})?\s+(?i:with)\s+{NAME}"),
    # a regular beside the host: "with me as always, Ahmad Karimi-Bose"
    (HOST, rf"(?i:with\s+(?:me|us)\s+as\s+(?:always|ever|usual)),?\s+(?:(?i:is)\s+)?{NAME}"),
    # "Welcome to Talking Shop, I'm Dana", "I'm Kwame and this is Followers First".
    # "Welcome to Talking Shop, I'm Dana", "This is Build Cycle. It's Callum here".
    (
        HOST,
        r"(?i:welcome\s+(?:back\s+)?to|this\s+is|you're\s+listening\s+to)\s+[^.!?]{1,60}?[.!?,]?"
        rf"\s+(?i:and\s+)?(?:{I_AM}|(?i:it's))\s+{NAME}",
    ),
    (
        HOST,
        rf"{I_AM}\s+{NAME}{_ASIDE}?,?\s+(?i:and\s+)?"
        rf"(?i:this\s+is|this\s+has\s+been|welcome\s+(?:back\s+)?to|you're\s+listening\s+to)\s+[{UPPER}]",
    ),
    # "This is the Podnews Weekly Review with James Cridland and Sam Sethi."
    (
        HOST,
        r"(?i:this\s+is|welcome\s+(?:back\s+)?to|you're\s+listening\s+to)\s+(?:the\s+)?"
        rf"[{UPPER}][\w'’-]*(?:\s+(?!(?i:I|I'm|me|we|we're|today)\b)[\w'’-]+){{0,5}}?"
        rf",?\s+(?i:with)\s+{NAME}",
    ),
    (HOST, rf"(?i:it's|it\s+is)\s+{NAME}\s+(?i:here)\b"),
    # "That's all from me, Ngozi", "You've been listening to The Files with me, Zoltan",
    # "you're live with Thandeka", "you're through to Nightline with Augusta Feeney"
    (HOST, rf"(?i:that's\s+(?:it|all)\s+from\s+me),?\s+{NAME}"),
    (HOST, rf"(?i:\bwith\s+me),\s+{NAME}"),
    (
        HOST,
        rf"(?i:you're\s+(?:live|on(?:\s+air)?|through\s+to\s+[^.!?,]{{1,40}}?)\s+with)\s+{NAME}",
    ),
    (
        HOST,
        r"(?i:(?:steered|led|hosted|presented|fronted)(?:,?\s+as\s+(?:ever|always|usual),?)?"
        rf"\s+by\s+me),\s+{NAME}",
    ),
    # "Hi everyone, it's Dana." "Cheers, Kwame out."
    (HOST, rf"(?i:\b(?:hi|hello|hey)\s+(?:everyone|everybody|all|folks),?\s+it's)\s+{NAME}"),
    (HOST, rf"{NAME}\s+(?i:out|signing\s+off)\s*[.!]"),
    (HOST, rf"(?i:\b(?:dear\s+)?listeners),?\s+{I_AM}\s+{NAME}"),
    (
        HOST,
        r"(?i:thanks?(?:\s+you)?(?:\s+so\s+much)?\s+for\s+(?:having|inviting|asking)\s+"
        r"(?:me|us)(?:\s+(?:back|on))?)"
        rf"(?i:\s+on(?:\s+the\s+{_SHOW})?)?,?\s+{NAME}",
    ),
    (
        HOST,
        r"(?i:(?:great|good|lovely|nice|wonderful|a\s+pleasure|a\s+privilege|an\s+honou?r|"
        r"delighted|glad|happy)\s+"
        rf"to\s+be\s+(?:here|back|on(?:\s+the\s+{_SHOW})?)(?:\s+with\s+you)?),?\s+{NAME}",
    ),
    (
        HOST,
        rf"(?<!I'm\s)(?<!am\s){NAME},\s+(?i:(?:and\s+)?thanks?(?:\s+you)?(?:\s+so\s+much)?\s+for\s+"
        r"having\s+(?:me|us))",
    ),
    # Today's guest.
    (
        GUEST,
        r"(?i:\b(?:my|our)\s+(?:(?:first|second|third|next|final)\s+)?guests?(?:\s+(?:today|tonight|this\s+week|this\s+episode|"
        rf"on\s+the\s+{_SHOW}))?){_ON_TITLE}?(?i:\s+(?:today|tonight))?(?i:\s+(?:is|are))?,?\s+"
        rf"(?i:the\s+[a-z]+\s+)?{NAME}",
    ),
    (
        GUEST,
        rf"(?i:(?:today's|tonight's|this\s+week's|this\s+episode's)\s+guests?(?:\s+(?:is|are))?)"
        rf",?\s+{NAME}",
    ),
    (
        GUEST,
        rf"(?i:joined\s+(?:{_NOW}\s+)?by)\s+(?i:(?:two|three|four|a\s+couple\s+of)\s+guests"
        rf"(?:\s+{_NOW})?,?\s+|{_DESCRIBED_AS})?{NAME}",
    ),
    (GUEST, rf"{NAME}{_ASIDE}?\s+(?i:joins|is\s+joining)\s+(?i:me|us)\b"),
    (GUEST, rf"{NAME}{_ASIDE}?\s+(?i:is\s+(?:here\s+)?with)\s+(?i:me|us)\b"),
    (GUEST, rf"{NAME}\s+(?i:is\s+(?:my|our)\s+guest)"),
    (GUEST, rf"{NAME},\s+(?i:(?:my|our)\s+guests?)\b"),
    (
        GUEST,
        r"(?i:(?:dialling|dialing|calling)\s+in\s+from\s+[^.!?]{1,60}?\s+(?:is|we\s+have)),?"
        rf"\s+{_DESCRIBED}{NAME}",
    ),
    (
        GUEST,
        r"(?i:(?:back\s+on\s+the\s+"
        + _SHOW
        + r"|on\s+the\s+line|on\s+stage)(?:\s+(?:from|in)\s+[^.!?,]{1,40}?)?"
        rf"(?:\s+{_NOW})?(?:\s+for\s+the\s+\w+\s+time)?\s+(?:is|with\s+(?:me|us)\s+is)),?\s+"
        rf"(?:(?i:the|a|an|our)\s+[^,.!?]{{1,60}},\s+)?{NAME}",
    ),
    (GUEST, rf"{NAME}\s+(?i:is\s+back\s+on\s+the\s+{_SHOW})"),
    (GUEST, rf"{NAME}\s+(?i:is\s+(?:here|back)\s+(?:to\s|with\s+(?:me|us)\b|{_NOW}\b))"),
    # "Moana, thank you for being my guest", "my thanks to Rukhsana for being such a
    # generous guest", "Ivo, who was a brilliant guest"
    (
        GUEST,
        rf"{NAME},?\s+(?:(?i:thank\s+you|thanks)(?:\s+so\s+much)?\s+for\s+being|"
        r"(?i:who\s+(?:was|has\s+been)))\s+(?i:(?:my|our|a|an|such\s+an?)\s+(?:\w+\s+)?guest)",
    ),
    (
        GUEST,
        rf"(?i:(?:my\s+)?thanks\s+(?:so\s+much\s+)?to)\s+{NAME},?\s+(?i:for\s+being\s+"
        r"(?:my|our|a|an|such\s+an?)\s+(?:\w+\s+)?guest)",
    ),
    # call-in shows: the caller is on this episode
    (GUEST, rf"{NAME},?\s+(?i:is\s+)?(?i:calling|phoning)\s+(?i:in\s+)?(?i:from|in)\b"),
    (GUEST, rf"(?i:go\s+(?:straight\s+|over\s+)?to)\s+{NAME}\s+(?i:in|from|on\s+line)\b"),
    (GUEST, rf"(?i:\bline\s+(?:one|two|three|four|five|six|\d)),\s+{NAME}"),
    (GUEST, rf"{NAME}\s+(?i:on\s+line\s+(?:one|two|three|four|five|six|\d))"),
    (GUEST, rf"(?i:caller(?:\s+\w+)?\s+is),?\s+{NAME}"),
    (GUEST, rf"(?i:we\s+have)\s+{NAME}\s+(?i:calling|on\s+line)"),
    (
        GUEST,
        rf"{NAME}(?:\s+(?i:from)\s+{_WORD}(?:\s+{_WORD})?)?,?\s+(?i:you're\s+(?:on\s+the\s+air|live|on))",
    ),
    (
        GUEST,
        r"(?i:say\s+hello\s+to|let\s+me\s+bring\s+in|let's\s+bring\s+in|(?:a\s+pleasure|"
        r"delighted|pleased|thrilled|proud)\s+to\s+welcome|(?:lucky|delighted|thrilled|pleased|"
        r"happy|great|proud)\s+to\s+have)\s+(?i:(?:my|our)\s+(?:\w+\s+)?guest,?\s+)?"
        rf"{NAME}",
    ),
    (
        GUEST,
        r"(?i:(?:sitting|sat)\s+(?:across\s+from|opposite|next\s+to|with)\s+me(?:\s+\w+){0,3}?"
        rf"\s+is),?\s+{NAME}",
    ),
    (
        GUEST,
        rf"(?i:we've\s+got|we\s+have|I've\s+got|I\s+have)\s+{NAME}\s+(?i:on\s+the\s+line|with\s+(?:us|me)|in\s+the\s+studio|"
        r"here\s+(?:today|tonight|this\s+week))",
    ),
    (GUEST, rf"(?i:(?:today|tonight|this\s+week),?\s+we're\s+with)\s+{NAME}"),
    (
        GUEST,
        rf"(?i:joining\s+(?:me|us))(?i:\s+{_NOW})?{_ON_TITLE}?(?i:(?:\s+{_NOW})?\s+(?:is|are)),?"
        rf"\s+{_DESCRIBED}{NAME}",
    ),
    (GUEST, rf"(?i:with\s+(?:me|us)\s+{_NOW}(?:\s+{_NOW})?\s+(?:is|are)),?\s+{_DESCRIBED}{NAME}"),
    (
        GUEST,
        rf"(?i:in\s+the\s+studio\s+with\s+(?:me|us)(?:\s+{_NOW})?\s+(?:is|are)),?"
        rf"\s+{_DESCRIBED}{NAME}",
    ),
    (GUEST, rf"{_WE_ARE}\s+(?i:(?:here|sat|sitting|sat\s+here)\s+with)\s+{NAME}"),
    (GUEST, rf"{_WE_ARE}\s+(?i:with)\s+{NAME}\s+(?i:today|tonight|this\s+week)"),
    (
        GUEST,
        rf"{_WE_ARE}\s+(?i:(?:chatting|talking|speaking|sitting\s+down)\s+(?:with|to))"
        rf"\s+{NAME}",
    ),
    (GUEST, rf"(?i:(?:please\s+)?welcome(?:\s+back)?(?:\s+to\s+the\s+{_SHOW})?),?\s+{NAME}"),
    (GUEST, rf"{NAME},\s+(?i:welcome)(?:\s+(?i:back))?(?:\s+(?i:to\s+the\s+{_SHOW}))?\s*[.!,]"),
    (
        GUEST,
        rf"{NAME},\s+(?i:who)\s+[^.?!]{{0,40}}?(?i:(?:on\s+the\s+{_SHOW}|in\s+the\s+studio|"
        r"with\s+(?:me|us)|joining\s+(?:me|us))\s+(?:today|tonight|this\s+week|now))",
    ),
    (
        GUEST,
        r"(?i:thanks?(?:\s+you)?(?:\s+so\s+much)?\s+for\s+(?:joining|coming\s+on|being\s+on|"
        rf"being\s+here|coming\s+in)\b[^.!?]{{0,30}}?),\s+{NAME}",
    ),
    (
        GUEST,
        rf"{NAME},\s+(?i:(?:thanks?(?:\s+you)?(?:\s+so\s+much)?\s+for\s+(?:joining|coming|"
        r"being\s+(?:here|on))|(?:it's\s+)?(?:great|lovely|good)\s+to\s+have\s+you))",
    ),
    (
        GUEST,
        rf"(?i:great\s+to\s+have\s+you(?:\s+(?:here|on\s+the\s+{_SHOW}|back))?)"
        rf",?\s+{NAME}",
    ),
    (
        GUEST,
        rf"(?i:\b(?:hi|hello|hey))[,!]?\s+(?:\w+[,!]?\s+)?{MY_NAME}\s+{NAME},?"
        r"\s+(?i:and\s+)?(?i:I'm\s+)?(?i:(?:so\s+)?(?:delighted|thrilled|glad|happy|great|"
        r"lovely|pleased|excited)\s+to\s+be\s+(?:on|here|with|joining))",
    ),
]
# Whoever led an event was on it, whenever it was ("Yesterday's panel was led by ...").
EVENT_LEADERS = [
    (
        GUEST,
        r"(?i:(?:led|chaired|moderated|facilitated|headlined)\s+by)"
        rf"\s+{_DESCRIBED_AS}?{NAME}",
    ),
]
# Guests of other episodes, and plain mentions: colleagues, authors, people addressed.
_RELATION = (
    r"colleague|co-worker|mentor|boss|manager|director|friend|partner|wife|husband|daughter|"
    r"son|mum|mom|dad|father|mother|brother|sister|cousin|teacher|coach|ceo|cfo|coo|cto|"
    r"founder|co-founder|chair|chairman|chairwoman|president|supervisor|assistant|client|"
    r"customer|author|editor|producer|neighbour|neighbor|teammate|team-mate|predecessor|"
    r"successor|deputy|intern|graduate|apprentice|trainee|hero|associate|lead|nurse|doctor|"
    r"grandmother|grandfather|grandma|gran|grandad|grandson|granddaughter|aunt|uncle|niece|"
    r"nephew|engineer|stylist|accountant|lawyer|landlord|landlady|flatmate|housemate|"
    r"classmate|foreman|agent|supplier|buyer"
)
# Nouns for a person: "a guy called Sam" names a person, "an app called Fountain" not.
PERSON_NOUNS = set(_RELATION.split("|")) | _words(
    """guy man woman bloke lady person someone somebody girl boy chap fella fellow kid
    child gentleman character guest host people folk lad lass"""
)
_SPEECH = (
    r"says|said|told|tells|asked|asks|talks|talked|wrote|writes|argues|argued|reckons|"
    r"puts\s+it|put\s+it|describes|described|explains|explained|used\s+to|once|has\s+this|had\s+this|have\s+this|"
    r"insisted|insists|taught|teaches|points\s+out|pointed\s+out|kicked\s+off|opened|calls|"
    r"coined|mapped|defined|distinguishes|identified|would\s+(?:call|say|argue)"
)
_IDEA = (
    r"point|idea|ideas|model|book|books|argument|framework|theory|work|research|phrase|line|"
    r"advice|map|view|take|approach|question|rule|quote|style|styles|types|categories|bit|"
    r"concept|term|notion|study|paper|list|lens"
)
_QUESTION = (
    r"what|how|why|when|where|who|which|do|does|did|is|are|was|were|can|could|would|will|"
    r"have|has|you|tell|explain|talk|walk|give|let"
)
# Verbs whose object is a person ("I asked Priya", "we promoted Jo").
_TOLD = (
    r"asked|told|thanked|emailed|messaged|pinged|rang|phoned|met|hired|promoted|praised|"
    r"read|reading|quoted|quoting|cited|citing"
)
_TO_YOU = (
    r"(?:you|you're|you've|your|I|I'm|I've|I'd|can|could|would|how|what|why|when|where|"
    r"tell|any|do|did|have|we|let|let's|go|please)\b"
)
_NOT_A_PLACE = r"(?<!\bnear\s)(?<!\bin\s)(?<!\bfrom\s)(?<!\bat\s)(?<!\bto\s)"
MENTIONS = [
    (
        MENTIONED,
        r"(?i:(?:last|next|previous)\s+(?:week|time|episode|month|season)(?:'s)?,?\s+"
        rf"(?:my\s+|our\s+)?guests?(?:\s+(?:was|is|will\s+be))?),?\s+{NAME}",
    ),
    (MENTIONED, rf"(?i:\bwe(?:\s+had|\s+have\s+had|'ll\s+have|\s+will\s+have))\s+{NAME}"),
    (
        MENTIONED,
        r"(?i:our\s+guests?\s+(?:on|for)\s+(?:the\s+)?(?:next|last|previous|upcoming)\s+"
        rf"(?:episode|show|week)\s+(?:will\s+be|is|was)),?\s+{NAME}",
    ),
    (MENTIONED, rf"{NAME}\s+(?i:(?:was|will\s+be)\s+(?:on|with\s+us))\b"),
    (
        MENTIONED,
        rf"(?i:\b(?:my|our|his|her|their|your|the)\s+(?:[a-z]+\s+){{0,2}}?(?:{_RELATION})(?:e?s)?"
        r"(?:\s+at\s+the\s+time)?),?"
        rf"\s+{NAME}",
    ),
    # "Rania Haddad, who", not "the ministry in Oslo, my boss": places come after "in"
    (MENTIONED, rf"{_NOT_A_PLACE}{NAME},\s+(?:who|whose|(?:our|my|his|her|their)\s+[a-z])"),
    (MENTIONED, rf"{NAME}\s+(?:{_SPEECH})\b"),
    (MENTIONED, rf"{NAME}\s+and\s+[{UPPER}][\w'’-]+\s+(?:{_SPEECH})\b"),
    # "Kate and I went", not "near Gisborne and I chair"
    (
        MENTIONED,
        rf"{_NOT_A_PLACE}{NAME}\s+and\s+(?:I|me)\b(?!['’])",
    ),
    (MENTIONED, rf"{NAME}\s+(?i:(?:in|from)\s+(?:the\s+)?(?:{'|'.join(DEPARTMENTS.split())}))\b"),
    (
        MENTIONED,
        rf"(?i:\b(?:thanks|thank\s+you|shout-?out|hats\s+off)(?:\s+so\s+much)?\s+to)\s+{NAME}",
    ),
    (MENTIONED, rf"(?i:\b(?:{_TOLD})|according\s+to)\s+{NAME}"),
    # the credits: "produced by Lior Ben-David", "music from Odile Marchetti"
    (
        MENTIONED,
        r"(?i:(?:produced|edited|mixed|engineered|composed|voiced|recorded)\s+by|"
        rf"music\s+(?:is\s+)?(?:from|by)|(?:producer|editor|engineer|composer)\s+is),?\s+{NAME}",
    ),
    (MENTIONED, rf"\b(?=(?:Mr|Mrs|Ms|Miss|Dr)\.?\s){NAME}"),  # "sat with Mr Hughes"
    # "I called Priya", but not "an app called Fountain": "called" usually names things
    (MENTIONED, rf"(?i:\b(?:I|we|he|she|they|you)\s+(?:just\s+|then\s+)?called)\s+{NAME}"),
    (MENTIONED, rf"(?i:\b(?:{'|'.join(sorted(PERSON_NOUNS))})\s+(?:called|named))\s+{NAME}"),
    (MENTIONED, rf"{NAME}'s\s+(?:[a-z]+\s+){{0,2}}?(?:{_IDEA})\b"),
    (
        MENTIONED,
        rf"(?:^|[.!?]\s+)(?i:(?:so|and|now|okay|ok|right|well),?\s+)?{NAME},\s+(?=(?:{_QUESTION})\b)",
    ),
    (
        MENTIONED,
        rf"(?i:\b(?:thanks|thank\s+you|cheers)(?:\s+(?:so\s+much|again|very\s+much))?),\s+{NAME}"
        r"(?=\s*[.!?,])",
    ),
    # someone spoken to: "Thabo, I want you to tell the story", "what do you think, Tom?"
    (MENTIONED, rf"(?:^|[.!?]\s+)(?i:(?:so|and|okay|ok|right|now),?\s+)?{NAME},\s+(?={_TO_YOU})"),
    (MENTIONED, rf"(?i:\b(?:you|your|you're|you've))\b[^.!?]{{0,80}},\s+{NAME}\s*[?]"),
]
# "Benedikt Sauer, everyone calls him Ben", "Siobhan O'Rourke, Shiv to everyone".
NICKNAME_ASIDES = [
    rf"{NAME},\s+(?i:(?:everyone|everybody|we\s+all|people)\s+calls?\s+(?:him|her|them))"
    rf"\s+(?P<nick>[{UPPER}][\w'’-]+)",
    rf"{NAME},\s+(?:(?i:or)\s+)?(?P<nick>[{UPPER}][\w'’-]+)\s+(?i:to\s+(?:everyone|everybody|"
    r"her\s+friends|his\s+friends|friends|us|the\s+team))",
    rf"{NAME},?\s+(?i:(?:also\s+)?known\s+as|aka|a\.k\.a\.)\s+(?P<nick>[{UPPER}][\w'’-]+)",
]
# A guest of another episode: a time other than now near the introduction.
ANOTHER_EPISODE = re.compile(
    r"\b(?:last|next|previous|upcoming|coming)\s+(?:week|time|episode|month|season|series|"
    r"year|show)|\bback\s+in\b|\bago\b|\bearlier\s+this\s+(?:year|season|month)|"
    r"\bwe\s+had\b|\bwe(?:'ll|\s+will)\s+have\b|\bcoming\s+up\b|\bwhen\s+we\s+come\s+back\b|"
    r"\bguests?\s+will\s+be\b",
    re.IGNORECASE,
)
SELF_INTRODUCTION = (
    rf"(?:^(?i:and\s+)?|[.!?]\s+(?i:and\s+)?|,\s+|(?i:\b(?:hi|hello|hey)),?\s+(?:\w+,?\s+)?)"
    rf"{MY_NAME},?\s+{NAME}"
)
# What a guest says of being on the show: "delighted to be on", "thanks for the invite".
ON_THE_SHOW = re.compile(
    r"\bto\s+be\s+(?:on|here|back)\b|\bbeing\s+on\b|\bfor\s+having\s+(?:me|us)\b|"
    r"\bfor\s+the\s+invite\b|\bfavourite\s+(?:podcast|show)\b|"
    r"\b(?:asked|asking|invited|inviting|having|bringing)\s+me\s+(?:on|back)\b|"
    r"\bcome\s+on\s+(?:this|the|your)\s+(?:show|podcast|programme)\b|\bbeen\s+(?:a\s+)?"
    r"(?:listener|listening|fan)\b|\bone\s+of\s+(?:the|tonight's|today's)\s+(?:\w+\s+)?"
    r"(?:panellists|panelists|guests|speakers)\b",
    re.IGNORECASE,
)
# What only a host says: the welcome, the sign-off, the show's own name.
HOSTING = re.compile(
    r"\bwelcome\s+(?:back\s+)?to\b|\byou're\s+listening\s+to\b|\bthis\s+has\s+been\b|"
    r"\bsee\s+you\s+next\b|\bthanks?\s+(?:you\s+)?(?:for|to\s+you\s+for)\s+listening\b|"
    r"\byour\s+(?:co-?)?host\b|\bI'll\s+be\s+your\b|\bthat's\s+(?:it|all)\s+for\b|"
    r"\bmy\s+guests?\b|\bmy\s+co-?(?:host|presenter)s?\b|\bbrought\s+to\s+you\s+by\b|"
    r"\bproduced\s+by\b|\bour\s+(?:producer|editor|sound\s+engineer)s?\s+(?:is|are)\b|\bcoming\s+up\s+on\b|\blistener\s+questions\b|"
    r"\bthis\s+week's\s+episode\b|\bback\s+on\s+the\s+show\s+(?:today|this\s+week|is|with)\b|\bon\s+the\s+line\s+from\b",
    re.IGNORECASE,
)
_THANKS = (
    r"(?i:\b(?:thanks|thank\s+you|cheers|(?:always\s+)?a\s+pleasure|my\s+pleasure|"
    r"good\s+(?:morning|afternoon|evening))"
    r"(?:\s+(?:so\s+much|again|very\s+much|both))?,?|\b(?:hi|hello|hey),?)"
)
THANKED = rf"{_THANKS}\s+{NAME}(?P<more>(?:,\s+(?:(?i:and)\s+)?{_WORD}(?=[,.!?]))*)"
# "My guests today are ...", "joining us are ...": every name after it in the sentence
# is a guest, but not the companies they come from ("the founders of Kowhai Kitchens").
GUEST_LIST = re.compile(
    r"\b(?:my|our)\s+(?:\w+\s+)?(?:guests|panel|panell?ists)\b|"
    r"\b(?:to\s+have|we\s+have|joining\s+us|with\s+us)\b[^.!?]*?:|\bjoining\s+(?:me|us)\b[^.!?]*?\bare\b|"
    r"\bin\s+the\s+studio\s+are\b|\b(?:led|hosted|chaired)\s+by\s+(?:two|three|four)\b|"
    r"\bwe're\s+with\s+the\b|\bwe\s+have\s+(?:two|three|four)\s+guests\b|"
    r"\bjoined\s+by\s+(?:two|three|four)\b|\btoday's\s+(?:panel|roundtable)\b|"
    r"\baround\s+the\s+table\b|\bon\s+stage\s+with\s+(?:me|us)\s+are\b|"
    # a panel: "On my left is ...", "from left to right, ...", "with her on the panel are"
    r"\bon\s+(?:my|your|the)\s+(?:left|right)\b|\bfrom\s+left\s+to\s+right\b|"
    r"\bon\s+the\s+panel\b[^.!?]{0,20}?\b(?:is|are)\b|\bon\s+stage\b[^.!?]{0,20}?,|"
    r"\bspeaking\s+(?:for|against)\b|\bwith\s+(?:me|us)\s+(?:today\s+|tonight\s+)?are\b|"
    r"\bour\s+(?:speakers|panell?ists|guests)\s+(?:tonight\s+|today\s+|this\s+\w+\s+)?are\b|"
    # "two guests: ...", "Joining us this morning, the economist ..."
    r"\b(?:two|three|four|five|our|my)\s+guests\s*:|"
    r"^\s*joining\s+(?:me|us)(?:\s+(?!is\b|are\b)[\w'’-]+){0,5},",
    re.IGNORECASE,
)
_PLACE_OR_FIRM = re.compile(r"\b(?:of|behind|at|for|from|in|near|across|on|to)\s*$", re.I)
# Where a show says its own name: "welcome to Harbour Lights", "back with another Build Cycle".
SHOW_TITLE = re.compile(
    r"(?i:welcome\s+(?:back\s+)?to|listening\s+to|this\s+is|(?:be|been|back)\s+on|another|"
    r"this\s+has\s+been|episode(?:\s+[\w-]+)?\s+of|brought\s+to\s+you\s+by|"
    r"(?:sponsored|supported)(?:\s+[a-z]+){0,2}\s+by)\s+(?i:the\s+)?"
    rf"(?P<title>{_WORD}(?:\s+(?:(?:at|of|the|to|and|in|on|for)\s+)?{_WORD})*)"
)


@dataclass
class Person:
    """One person within one episode (or one text)."""

    name: str
    aliases: set[str] = field(default_factory=set)
    role: str = MENTIONED
    role_from_feed: bool = False
    mentions: int = 0
    sources: set[str] = field(default_factory=set)

    def names(self) -> set[str]:
        return {self.name, *self.aliases}


def split_name(raw: str) -> tuple[str, set[str]]:
    """'Antonio (Tony) Belgrave' -> ('Antonio Belgrave', {'Tony Belgrave', 'Tony'}).

    Titles and framing words are dropped ("Uncle Desmond", "So Amara"), as is a
    possessive ("Kelley's")."""
    text = " ".join(raw.replace("’", "'").replace("‘", "'").replace("“", '"').split())
    text = text.replace("”", '"').strip(" ,.;:!?'\"")
    nickname = re.search(r"\(([^)]+)\)|(?:^|\s)['\"]([^'\"]+)['\"](?=\s)", text)
    text = re.sub(r"\([^)]*\)|(?:^|\s)['\"][^'\"]+['\"](?=\s)", " ", text)
    words = [w for w in text.split() if w.lower().strip(".") not in TITLES]
    while words and words[0].lower() in EDGE_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip(".,") in EDGE_WORDS:
        words.pop()
    canonical = " ".join(words).strip(" ,.;:!?'\"")
    if canonical.endswith("'s"):
        canonical = canonical[:-2]
    aliases: set[str] = set()
    if nickname and canonical:
        short = (nickname.group(1) or nickname.group(2)).strip()
        rest = canonical.split()[1:]
        aliases = {short, " ".join([short, *rest]).strip()}
    return canonical, aliases


# Capitalised like a name, said like "wow".
EXCLAMATIONS = {"good lord", "oh lord", "my lord", "good god", "oh god", "my god", "thank god"}


def looks_like_name(name: str, *, introduced: bool = False) -> bool:
    """Could this cleaned name be a person's? Rejects "Tick box", "Frontline Talk", "CV",
    a lone "Sunday", and a lone "Hope" unless someone was introduced by it."""
    words = name.split()
    if not words or words[0] in PARTICLES or words[-1] in PARTICLES:
        return False
    if name.lower() in EXCLAMATIONS:
        return False
    for word in words:
        if word in PARTICLES:
            continue
        if not word[0].isupper() or any(c.isdigit() for c in word):
            return False
        if len(word) > 1 and word.isupper() and not re.fullmatch(r"(?:[A-Z]\.)+", word):
            return False  # an acronym: "CV", "HR", "CEO"
        if word.lower() in EDGE_WORDS:
            return False
    if len(words) > 1:
        return words[-1].lower() not in ORGANISATION_WORDS
    word = words[0].lower()
    plural = word[:-1] if word.endswith("s") else word  # "my staff hated Thursdays"
    if word in NOT_ALONE or plural in NOT_ALONE:
        return False
    return introduced or word not in WORD_NAMES


def _titled(raw: str) -> bool:
    """'Uncle Desmond', 'Mr Hurst': a title says the word after it is a person."""
    first = raw.split()[0].lower().strip(".") if raw.split() else ""
    return first in TITLES


def same_person(a: str, b: str) -> bool:
    """Do two names (canonical or alias) refer to the same person?

    A lone word is a first name ("Tony" for "Antonio Belgrave") or a surname
    ("Kelley" for "Robert Kelley")."""
    wa, wb = a.lower().split(), b.lower().split()
    if not wa or not wb:
        return False
    if wa == wb:
        return True
    if len(wa) > 1 and len(wb) > 1:
        return _surnames_agree(wa[-1], wb[-1]) and _first_names_agree(wa[0], wb[0])
    short, full = (wa, wb) if len(wa) == 1 else (wb, wa)
    return _first_names_agree(short[0], full[0]) or (
        len(full) > 1 and _surnames_agree(short[0], full[-1])
    )


def _surnames_agree(a: str, b: str) -> bool:
    """Equal, or one letter apart in a long surname: speech recognition spells names by
    ear ("Robert Kelly" in the audio of show notes' "Kelley")."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or a[0] != b[0] or abs(len(a) - len(b)) > 1:
        return False
    short, long = sorted((a, b), key=len)
    if len(short) == len(long):
        return sum(x != y for x, y in zip(short, long, strict=True)) == 1
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _first_names_agree(a: str, b: str) -> bool:
    if a == b or b in NICKNAMES.get(a, ()) or a in NICKNAMES.get(b, ()):
        return True
    # A clipped first name is a nickname too ("Ben" for Benedikt, "Tom" for Tomasz,
    # "Rafa" for Rafael, "Emeka" for Chukwuemeka); a difference of one letter, or two
    # in a short name, is more often another name (Dan and Dana, Jon and Jonas).
    short, long = sorted((a, b), key=len)
    if len(short) >= 4 and len(long) >= len(short) + 2:
        return long.startswith(short) or long.endswith(short)
    return len(short) >= 3 and len(long) >= len(short) + 3 and long.startswith(short)


class Roster:
    """People found in one episode, merged as they are added."""

    def __init__(self) -> None:
        self.people: list[Person] = []

    def add(
        self,
        raw: str,
        *,
        role: str | None = None,
        source: str,
        count: int = 1,
        from_feed: bool = False,
    ) -> Person | None:
        name, aliases = split_name(raw)
        if not looks_like_name(name, introduced=from_feed or role in (HOST, GUEST)):
            return None
        lone = len(name.split()) == 1
        fits = self._fits(name, *(a for a in aliases if len(a.split()) > 1 or lone))
        if len(fits) > 1 and lone:
            return None  # "Sam" when two Sams are on the roster: cannot tell which
        person = fits[0] if len(fits) == 1 else None
        if person is None and not lone:
            person = self._same_surname_on_the_show(name)
        if person is None:
            if lone and role is None and not from_feed and not _titled(raw):
                return None  # a lone word nobody introduced ("to Manchester"): too unsure
            if lone and role == HOST and not from_feed and self._feed_host():
                return None  # "thanks for having me, Taylor" to the feed's Dana: misheard
            person = Person(name)
            self.people.append(person)
        elif len(name.split()) > len(person.name.split()) and not aliases:
            person.aliases.add(person.name)
            person.name = _as_written(name, person, source)
        person.aliases |= aliases
        if name != person.name:
            person.aliases.add(name)
        person.mentions += count
        person.sources.add(source)
        self._set_role(person, role, from_feed)
        return person

    def _set_role(self, person: Person, role: str | None, from_feed: bool) -> None:
        if role is None or person.role_from_feed and not from_feed:
            return
        if from_feed or RANK[role] < RANK[person.role]:
            person.role = role
            person.role_from_feed = person.role_from_feed or from_feed

    def _feed_host(self) -> bool:
        return any(p.role == HOST and p.role_from_feed for p in self.people)

    def _same_surname_on_the_show(self, name: str) -> Person | None:
        """Speech recognition mangles first names ("Gain Whitfield" for "Dana Whitfield"):
        a surname shared with exactly one host or guest from the feed is that person."""
        surname = name.split()[-1].lower()
        if len(surname) < 4:
            return None
        fits = [
            p
            for p in self.people
            if p.role_from_feed and p.role != MENTIONED and p.name.split()[-1].lower() == surname
        ]
        return fits[0] if len(fits) == 1 else None

    def _fits(self, *names: str) -> list[Person]:
        return [
            person
            for person in self.people
            if any(same_person(n, known) for n in names for known in person.names())
        ]

    def find(self, *names: str) -> Person | None:
        """The one person these names fit; None when none or several do (ambiguous)."""
        fits = self._fits(*names)
        return fits[0] if len(fits) == 1 else None


def _as_written(name: str, person: Person, source: str) -> str:
    """A fuller name heard in the audio keeps the surname as the feed or show notes
    spell it: "Robert Kelly" said, "Kelley" written, gives "Robert Kelley"."""
    written, words = person.name.split()[-1], name.split()
    if source in WRITTEN or not person.sources & WRITTEN or written == words[-1]:
        return name
    if not _surnames_agree(written.lower(), words[-1].lower()):
        return name  # matched by first name ("Dana" written, "Dana Whitfield" heard)
    return " ".join([*words[:-1], written])


def feed_role(role: str | None) -> str:
    """podcast:person roles beyond host and guest (producer, cover art...) are credits."""
    role = (role or "").lower()
    return (
        HOST if role in ("host", "co-host", "cohost") else GUEST if role == "guest" else MENTIONED
    )


# Authors the field cites by surname alone ("in the Kelley model", "that's Chaleff"):
# the codebook's own (themes.toml) and the classics of leadership writing.
CITED_AUTHORS = {
    "Kelley": "Robert Kelley",
    "Kelly": "Robert Kelley",  # as speech recognition spells him
    "Chaleff": "Ira Chaleff",
    "Haslam": "Alex Haslam",
    "Reicher": "Stephen Reicher",
    "Platow": "Michael Platow",
    "Greenleaf": "Robert Greenleaf",
    "Drucker": "Peter Drucker",
    "Covey": "Stephen Covey",
    "Sinek": "Simon Sinek",
    "Edmondson": "Amy Edmondson",
    "Dweck": "Carol Dweck",
    "Goleman": "Daniel Goleman",
    "Kotter": "John Kotter",
}
_CITED = re.compile(
    rf"(?:\b(?P<first>[{UPPER}][a-z]+)\s+)?\b(?P<surname>{'|'.join(CITED_AUTHORS)})\b"
)


def cited_authors(text: str) -> Iterator[tuple[str, str]]:
    """The field's authors, named as the text names them: "Kelley", "Ira Chaleff"."""
    for match in _CITED.finditer(text):
        first, surname = match.group("first"), match.group("surname")
        if surname == "Kelly" and not _HIS_MODEL.match(text, match.end()):
            continue  # "Kelly" is a first name too: only "Kelly's model" is his
        full = CITED_AUTHORS[surname]
        yield (full if first and full.startswith(first + " ") else surname), MENTIONED


_HIS_MODEL = re.compile(r"'s\s+(?:one|model|styles?|framework|types?|followers?)\b")


def introductions(text: str) -> Iterable[tuple[str, str]]:
    """(name, role) for every introduction or telling mention of a person in the text.

    Mentions come out as "mentioned": they add people spaCy missed ("Ira Chaleff talks
    about ...") without outranking a host or guest role found elsewhere."""
    yield from _introduced(text)
    yield from cited_authors(text)
    for role, pattern in EVENT_LEADERS + MENTIONS:
        for match in _names(pattern, text):
            for name in _with_coordinated(text, match):
                yield name, role
    for pattern in NICKNAME_ASIDES:
        for match in _names(pattern, text):
            yield _with_nickname(_trim(match.group("name")), match.group("nick")), MENTIONED


def _introduced(text: str) -> Iterator[tuple[str, str]]:
    for role, pattern in INTRODUCTIONS:
        for match in _names(pattern, text):
            for name in _with_coordinated(text, match):
                yield name, MENTIONED if role == GUEST and _another_episode(text, match) else role


def own_names(text: str) -> list[str]:
    """The names a speaker gives as their own in ``text`` ("I'm Tony Marino", "I'm your
    host, Dana Whitfield"), in order: how speakers/naming.py names the voice that said it."""
    names: list[str] = []
    for pattern in (HOST_SELF, SELF_INTRODUCTION):
        names += [_trim(m.group("name")) for m in _names(pattern, text)]
    return list(dict.fromkeys(names))


def self_introductions(
    text: str, context: str | None = None, guests: Iterable[str] = (), nearby: str = ""
) -> Iterable[tuple[str, str]]:
    """(name, role) for "I'm ..." in ``text``: the host, who says it far more often,
    unless they are named as a guest, or say they are on the show there or in the
    sentences either side (``nearby``: "Thanks for having me. I'm Olu ..."); but always
    the host if they introduce someone else as today's guest, there or in the
    ``context`` around it ("I'm Tessa. This week we're with Marguerite ...")."""
    names = [_trim(match.group("name")) for match in _names(SELF_INTRODUCTION, text)]
    if not names:
        return  # the usual case: skip looking for guests
    guests = [*guests, *(name for name, role in _introduced(context or text) if role == GUEST)]
    on_the_show = ON_THE_SHOW.search(f"{text} {nearby}")
    for name in names:
        introduces = any(not same_person(name, guest) for guest in guests)
        introduced = any(same_person(name, guest) for guest in guests)
        yield name, HOST if introduces or not (introduced or on_the_show) else GUEST


_GREETING = re.compile(r"(?i:hi|hello|hey)\b")
# "Aviaja, welcome.", "Søren, good to have you.", "Maureen, good morning.": whoever answers
# that names the host
_WELCOMED = re.compile(rf"(?i:\bwelcome\b(?!\s+to\b))|^{_WORD}(?:\s+{_WORD})?,\s")


def _replies(text: str, start: int, before: str | None, hosting: bool) -> bool:
    """Do the thanks at ``start`` open a turn with no host's words in it, or answer a
    welcome? A greeting does neither: "Hi Sam, just following up" names no host."""
    if _GREETING.match(text, start):
        return False
    if start == 0 and before is None:
        return not hosting
    head = f"{before or ''} {text[:start]}".strip()
    if not head.endswith((".", "!", "?")):
        return False  # the thanks do not open a sentence
    return bool(_WELCOMED.search(last_sentence(head)))


def thanked_hosts(
    text: str, after: str = "", before: str | None = "", hosting: bool = False
) -> Iterator[tuple[str, str]]:
    """Who a guest thanks is the host: "Thank you, Aroha, it's a privilege to be on
    Field Notes", "thanks both, Jo, Senthil, thanks for having us". Where the speaker
    also says they are on the show, there or in the next sentence (``after``); or where
    the thanks answer a welcome ("Jordan, welcome. Thanks, Kwabena."); or where they
    open a turn (``before`` is None) that has nothing of a host's in it (``hosting``):
    "Thanks, Mateus. So, in my family, the shop came first." """
    next_sentence = first_sentence(after)
    matches = _names(THANKED, text)
    if not ON_THE_SHOW.search(f"{text} {next_sentence}"):
        matches = (m for m in matches if _replies(text, m.start(), before, hosting))
    for match in matches:
        yield _trim(match.group("name")), HOST
        for name in re.findall(rf"{_WORD}", match.group("more")):
            yield name, HOST


def listed_guests(text: str) -> Iterator[tuple[str, str]]:
    """Names listed after a plural introduction, in the same sentence."""
    for sentence in SENTENCE_END.split(text):
        cue = GUEST_LIST.search(sentence)
        if cue is None:
            continue
        role = MENTIONED if ANOTHER_EPISODE.search(sentence) else GUEST
        rest = sentence[cue.end() :]
        for match in _names(NAME, rest):
            start = match.start("name")
            # only the words just before the name: the whole prefix each time is quadratic
            if not _PLACE_OR_FIRM.search(rest, max(0, start - 12), start):
                yield _trim(match.group("name")), role


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str) -> str:
    return SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def last_sentence(text: str) -> str:
    return SENTENCE_END.split(text.strip())[-1]


FILLER = r"(?i:uh|um|er|erm)"


def without_fillers(text: str) -> str:
    """ "my guest today is, um, Csilla Nagy-Toth" as the rules read it: "is, Csilla";
    and a word said twice once: "joining me is is the the chief" -> "is the chief"."""
    text = re.sub(rf",\s+{FILLER},(?=\s)", ",", text)
    text = re.sub(rf"\s+{FILLER},?(?=\s)", "", text)
    return _REPEATED.sub(r"\1", text)


_REPEATED = re.compile(r"\b(\w[\w']*)(?:\s+\1\b)+", re.IGNORECASE)


def show_titles(text: str) -> set[str]:
    return {_trim(m.group("title")) for m in SHOW_TITLE.finditer(text)}


PREVIOUS_WORD_WINDOW = 80  # characters: longer than any word


def _names(pattern: str, text: str) -> Iterator[re.Match[str]]:
    """Matches whose name stands on its own, not the tail of a longer capitalised
    phrase ("The Commercial Edge", "Followers First Podcast")."""
    for match in re.finditer(pattern, text):
        if _common_word(match.group("name"), text):
            continue
        start = match.start("name")
        # the word before the name, from a window: the whole prefix each time is quadratic
        before = text[max(0, start - PREVIOUS_WORD_WINDOW) : start].rstrip()
        previous = before.split()[-1].replace("’", "'") if before else ""
        word = previous.lower().split("'")[0]  # "That's" and "I'm" frame like "that", "i"
        if word == "the":
            continue
        if previous[:1].isupper() and previous[-1:].isalnum() and word not in EDGE_WORDS:
            continue
        yield match


def _common_word(name: str, text: str) -> bool:
    """A lone capitalised word that the same text also uses in lower case is a word,
    not a name ("Sales says ...; marketing says sales ...")."""
    words = name.split()
    lower = words[0].lower()
    return len(words) == 1 and lower != words[0] and re.search(rf"\b{lower}\b", text) is not None


_AND_NAME = re.compile(rf"\s+and\s+{NAME}")


def _with_coordinated(text: str, match: re.Match[str]) -> list[str]:
    """The introduced name and one joined to it by "and" ("joined by Ana Ruiz and Li Wei")."""
    names = [_trim(match.group("name"))]
    after = _AND_NAME.match(text, match.end("name"))
    if after:
        names.append(_trim(after.group("name")))
    return names


def _another_episode(text: str, match: re.Match[str]) -> bool:
    """Is the sentence around this introduction about another episode ("last week my
    guest ...", "... joined us back in the spring")?"""
    start = max(text.rfind(c, 0, match.start("name")) for c in ".!?;") + 1
    clause_end = re.search(r"[,.;!?]", text[match.end("name") :])
    end = match.end("name") + (clause_end.start() if clause_end else len(text))
    return bool(ANOTHER_EPISODE.search(text[start:end]))


def _with_nickname(name: str, nickname: str) -> str:
    """'Benedikt Sauer' + 'Ben' -> 'Benedikt (Ben) Sauer', the form split_name reads."""
    first, *rest = name.split()
    return " ".join([first, f"({nickname})", *rest])


def _trim(name: str) -> str:
    """Drop framing words around a name ("Dana Whitfield And", "So Amara")."""
    words = name.split()
    while len(words) > 1 and words[-1].lower() in EDGE_WORDS:
        words.pop()
    while len(words) > 1 and words[0].lower() in EDGE_WORDS:
        words.pop(0)
    return " ".join(words)
