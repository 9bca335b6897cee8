"""People: name cleaning, matching, merging within an episode, and roles from introductions.

The sentences are hand-written for these tests, not taken from the evaluation set.
"""

from __future__ import annotations

import pytest

from pipeline.analysis.people import (
    GUEST,
    HOST,
    MENTIONED,
    Roster,
    feed_role,
    introductions,
    looks_like_name,
    same_person,
    self_introductions,
    split_name,
)


def roles(text: str) -> dict[str, str]:
    """Each introduced name with its best role, the way the roster would keep it."""
    roster = Roster()
    for name, role in introductions(text):
        roster.add(name, role=role, source="test", count=0)
    return {person.name: person.role for person in roster.people}


# split_name


def test_split_name_keeps_a_bracketed_nickname_as_aliases():
    assert split_name("Antonio (Tony) Belgrave") == (
        "Antonio Belgrave",
        {"Tony", "Tony Belgrave"},
    )


def test_split_name_keeps_a_quoted_nickname_as_aliases():
    name, aliases = split_name("Kwabena 'KJ' Mensah-Boateng")
    assert name == "Kwabena Mensah-Boateng"
    assert aliases == {"KJ", "KJ Mensah-Boateng"}


def test_split_name_keeps_apostrophes_inside_surnames():
    assert split_name("Niamh O'Sullivan") == ("Niamh O'Sullivan", set())


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Dr Helena Voss", "Helena Voss"),
        ("Prof. Ian Marsh", "Ian Marsh"),
        ("Uncle Winston", "Winston"),
        ("Mr Okafor", "Okafor"),
    ],
)
def test_split_name_drops_titles(raw: str, name: str):
    assert split_name(raw)[0] == name


@pytest.mark.parametrize(
    ("raw", "name"),
    [("Keller's", "Keller"), ("Greta Holm’s", "Greta Holm"), ("Greta Holm,", "Greta Holm")],
)
def test_split_name_drops_possessives_and_punctuation(raw: str, name: str):
    assert split_name(raw)[0] == name


def test_split_name_drops_framing_words_at_either_end():
    assert split_name("So Imogen")[0] == "Imogen"
    assert split_name("Imogen Tate And")[0] == "Imogen Tate"


# looks_like_name


@pytest.mark.parametrize("name", ["Petra Novak", "Ludwig van Berg", "Jo", "Siobhan O'Neill"])
def test_looks_like_name_accepts_people(name: str):
    assert looks_like_name(name)


@pytest.mark.parametrize(
    "name",
    ["Tick box", "CV", "Sunday", "Hope", "TikTok", "Morning Talk", "Sales", "Web3 Summit", "It"],
)
def test_looks_like_name_rejects_words_acronyms_and_show_names(name: str):
    assert not looks_like_name(name)


def test_a_lone_word_like_will_is_a_name_once_someone_is_introduced_by_it():
    assert not looks_like_name("Will")
    assert looks_like_name("Will", introduced=True)


# same_person


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Tony Belgrave", "Antonio Belgrave"),  # nickname table
        ("Tony", "Antonio Belgrave"),  # lone nickname
        ("Greta", "Greta Holm"),  # lone first name
        ("Holm", "Greta Holm"),  # lone surname ("Mr Holm")
        ("Ben Kessler", "Benedikt Kessler"),  # clipped first name
        ("greta holm", "Greta Holm"),
        ("Kelley", "Robert Kelly"),  # a surname spelt by ear
        ("Robert Kelley", "Robert Kelly"),
    ],
)
def test_same_person_matches_spelling_variants(a: str, b: str):
    assert same_person(a, b)
    assert same_person(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Greta Holm", "Greta Lind"),  # different surnames
        ("Dan Whitby", "Dana Whitby"),  # one letter apart is another name, not a clipping
        ("Tony", "Greta Holm"),
        ("", "Greta Holm"),
        ("Dana Whitby", "Dana Whitney"),  # two letters apart
        ("Sam Hale", "Sam Hall"),  # short surnames: one letter is another family
        ("Kelley", "Robert Belley"),  # a different first letter
    ],
)
def test_same_person_keeps_different_people_apart(a: str, b: str):
    assert not same_person(a, b)


# Roster merging


def test_roster_merges_bracketed_nickname_full_and_short_forms():
    roster = Roster()
    roster.add("Antonio (Tony) Belgrave", source="notes")
    roster.add("Tony Belgrave", source="transcript")
    roster.add("Antonio Belgrave", source="transcript")
    roster.add("Tony", source="transcript")
    assert len(roster.people) == 1
    person = roster.people[0]
    assert person.name == "Antonio Belgrave"
    assert {"Tony", "Tony Belgrave"} <= person.aliases
    assert person.mentions == 4


def test_roster_merges_nickname_table_variants_in_either_order():
    roster = Roster()
    roster.add("Mike Adeyemi", source="transcript")
    roster.add("Michael Adeyemi", source="transcript")
    assert [p.name for p in roster.people] == ["Mike Adeyemi"]
    assert "Michael Adeyemi" in roster.people[0].aliases


def test_roster_upgrades_a_short_name_to_the_fuller_one():
    roster = Roster()
    roster.add("Keller", role=MENTIONED, source="transcript")
    roster.add("Rosa Keller", source="transcript")
    assert [p.name for p in roster.people] == ["Rosa Keller"]


def test_roster_keeps_the_written_spelling_of_a_surname_heard_in_the_audio():
    roster = Roster()
    roster.add("Kelley", role=MENTIONED, source="show-notes")
    roster.add("Robert Kelly", source="transcript")
    assert [p.name for p in roster.people] == ["Robert Kelley"]
    assert {"Kelley", "Robert Kelly"} <= roster.people[0].aliases


def test_roster_leaves_an_ambiguous_lone_first_name_unassigned():
    roster = Roster()
    roster.add("Sam Okoro", source="transcript")
    roster.add("Sam Whitlock", source="transcript")
    assert roster.add("Sam", source="transcript") is None
    assert roster.find("Sam") is None
    assert [p.mentions for p in roster.people] == [1, 1]


def test_roster_resolves_a_lone_first_name_to_the_one_matching_person():
    roster = Roster()
    roster.add("Petra Novak", source="transcript")
    assert roster.add("Petra", source="transcript") is roster.people[0]


def test_roster_drops_a_lone_word_nobody_introduced():
    roster = Roster()
    assert roster.add("Bristol", source="transcript") is None
    assert roster.add("Uncle Winston", source="transcript") is not None  # a title vouches


def test_roster_merges_a_misheard_first_name_into_the_feed_host():
    roster = Roster()
    roster.add("Dana Whitby", role=HOST, source="feed", count=0, from_feed=True)
    roster.add("Gain Whitby", source="transcript")
    assert len(roster.people) == 1


def test_roster_ignores_a_lone_name_addressed_as_host_when_the_feed_names_the_host():
    roster = Roster()
    roster.add("Dana Whitfield", role=HOST, source="feed", count=0, from_feed=True)
    assert roster.add("Taylor", role=HOST, source="transcript") is None  # misheard "Dana"
    assert roster.add("Sam Okafor", role=HOST, source="transcript") is not None  # a co-host


def test_roster_keeps_the_best_role_and_the_feeds_role_wins():
    roster = Roster()
    roster.add("Petra Novak", role=MENTIONED, source="transcript")
    roster.add("Petra Novak", role=GUEST, source="transcript")
    assert roster.people[0].role == GUEST
    roster.add("Ivo Brandt", role=GUEST, source="feed", from_feed=True)
    roster.add("Ivo Brandt", role=HOST, source="transcript")
    assert roster.people[1].role == GUEST


def test_feed_role_treats_credits_as_mentions():
    assert feed_role("Co-Host") == HOST
    assert feed_role("guest") == GUEST
    assert feed_role("Cover Art") == MENTIONED
    assert feed_role(None) == MENTIONED


# Introductions -> roles


@pytest.mark.parametrize(
    "text",
    [
        "Hello and welcome, I'm your host Marta Quinlan.",
        "I'm Marta Quinlan, your host for tonight.",
        "Welcome back to Shop Floor Stories. I'm Marta Quinlan, and this week it's rotas.",
        "I'm Marta Quinlan and this is Shop Floor Stories.",
        "Hiya, it's Marta Quinlan here with another episode.",
        "Thanks so much for having me, Marta Quinlan.",
        "Marta Quinlan, thank you for having me on.",
        "Great to be here, Marta Quinlan, I've listened for years.",
        "As my co-host Marta Quinlan keeps reminding me, we're over time.",
        "I'm Marta Quinlan, Marty to my mates, and you're listening to Shop Floor Stories.",
        "Evening, listeners, I'm Marta Quinlan.",
        "This is the Shop Floor weekly review with Marta Quinlan.",
        "You're listening to Shop Floor Stories with Marta Quinlan.",
    ],
)
def test_host_introductions(text: str):
    assert roles(text) == {"Marta Quinlan": HOST}


@pytest.mark.parametrize(
    "text",
    [
        "My guest today is Idris Fenwick, who fixes failing call centres.",
        "Today's guest is Idris Fenwick.",
        "This week I'm joined by the brilliant Idris Fenwick.",
        "Joining me today is Idris Fenwick.",
        "Idris Fenwick joins me from Leeds.",
        "Idris Fenwick is with us today.",
        "With me in the studio is Idris Fenwick.",
        "I'm here with Idris Fenwick.",
        "We're with Idris Fenwick this week.",
        "Today I'm chatting with Idris Fenwick about rotas.",
        "Please welcome Idris Fenwick.",
        "Idris Fenwick, welcome to the show.",
        "So Idris Fenwick, who we're lucky to have on the show today, has a theory.",
        "Thanks for joining us, Idris Fenwick.",
        "Idris Fenwick, lovely to have you.",
        "Last night's hackathon was led by Idris Fenwick.",
        "Idris Fenwick, who runs three depots in Hull, joins me today.",
        "Idris Fenwick is my guest this week.",
        "We've got Idris Fenwick on the line from Hull.",
        "This week we're with Idris Fenwick, who runs three depots.",
    ],
)
def test_guest_introductions(text: str):
    assert roles(text) == {"Idris Fenwick": GUEST}


@pytest.mark.parametrize(
    "text",
    [
        "Last week's guest, Idris Fenwick, said rotas are a trust exercise.",
        "Last week my guest Idris Fenwick said rotas are a trust exercise.",
        "Next week we'll have Idris Fenwick on to talk rotas.",
        "Our guest on the next episode will be Idris Fenwick.",
        "We had Idris Fenwick on the show back in the autumn.",
        "I was joined by Idris Fenwick a few months ago.",
    ],
)
def test_guests_of_other_episodes_are_mentioned(text: str):
    assert roles(text) == {"Idris Fenwick": MENTIONED}


@pytest.mark.parametrize(
    "text",
    [
        "My old manager, Gwen Albright, never once raised her voice.",
        "Gwen Albright, our head of finance, signs everything off.",
        "Gwen Albright told me the forecast was fiction.",
        "Gwen Albright's whole argument is that budgets are promises.",
        "According to Gwen Albright, nobody reads the appendix.",
        "Gwen Albright and I ran the pilot.",
        "Gwen Albright would call that a broken promise.",
    ],
)
def test_other_named_people_are_mentioned(text: str):
    assert roles(text) == {"Gwen Albright": MENTIONED}


@pytest.mark.parametrize(
    "text", ["Albright would call that a broken promise.", "That's Albright's promise bit."]
)
def test_an_authors_lone_surname_is_found_by_the_wording_around_it(text: str):
    assert roles(text) == {"Albright": MENTIONED}


def test_hosted_by_names_the_host_unless_it_is_a_sponsor_read_or_another_event():
    assert roles("The show is hosted by Marta Quinlan.") == {"Marta Quinlan": HOST}
    assert roles("This podcast is sponsored and hosted by Buzz Sprout.") == {}
    assert roles("The awards were hosted by Gwen Albright.") == {}


def test_someone_you_called_is_mentioned():
    assert roles("I called Gwen Albright the next morning.") == {"Gwen Albright": MENTIONED}


def test_two_hosts_of_this_is_the_show_with():
    text = "This is the Shop Floor weekly review with Marta Quinlan and Idris Fenwick."
    assert roles(text) == {"Marta Quinlan": HOST, "Idris Fenwick": HOST}


def test_two_guests_joined_by_and_are_both_guests():
    assert roles("I'm joined by Ana Ruiz and Li Wei.") == {"Ana Ruiz": GUEST, "Li Wei": GUEST}
    text = "I'm joined by two guests today, Ana Ruiz and Li Wei."
    assert roles(text) == {"Ana Ruiz": GUEST, "Li Wei": GUEST}


def test_another_episodes_guest_stays_in_its_own_clause():
    text = "Last week my guest Ana Ruiz was brilliant; this week we're with Li Wei."
    assert roles(text) == {"Ana Ruiz": MENTIONED, "Li Wei": GUEST}


def test_host_and_guest_in_one_opening():
    text = "I'm your host, Marta Quinlan, and this week I'm talking to Idris Fenwick about rotas."
    assert roles(text) == {"Marta Quinlan": HOST, "Idris Fenwick": GUEST}


def test_thanking_the_host_by_first_name_makes_them_host():
    assert ("Marta", HOST) in set(introductions("Thanks for having me, Marta. Lovely to be here."))


def test_addressed_and_thanked_first_names_are_found():
    found = set(introductions("Thanks, Ruth. Now Idris, what went wrong?"))
    assert {("Ruth", MENTIONED), ("Idris", MENTIONED)} <= found


def test_a_nickname_aside_becomes_an_alias():
    roster = Roster()
    for name, role in introductions("Bartholomew Crane, everyone calls him Barty, ran payroll."):
        roster.add(name, role=role, source="test")
    assert roster.add("Barty", source="test") is roster.people[0]
    assert roster.people[0].name == "Bartholomew Crane"


def test_name_ends_before_following_capitalised_words():
    assert roles("My guest today is Petra Novak. So, Petra, tell me.") == {"Petra Novak": GUEST}
    assert roles("I'm your host Marta Quinlan And welcome.") == {"Marta Quinlan": HOST}


@pytest.mark.parametrize(
    "text",
    [
        "Welcome back to The Night Desk, everyone.",  # a show name is not a guest
        "Welcome to Shop Floor Stories, the show about retail.",
        "Will you be around on Friday for the recording?",
        "Hope is not a plan, it's a mood.",
        "Grace under fire is a cliche for a reason.",
        "Finance says no; finance always says no.",  # a word the text also uses in lower case
        "Everyone, what do you reckon?",
        "I posted the clip on Instagram and nobody watched it.",
        "She was quiet. Never told anyone off, just waited.",  # a sentence-opening adverb
        "Start with an app called Fountain.",  # "called" names a thing
        "Someone proposed a new tag called Accepts Guests.",
        "Wowsers. Good Lord. Anyway.",
    ],
)
def test_false_names_are_not_people(text: str):
    assert roles(text) == {}


def test_self_introductions_find_the_speaker():
    assert list(self_introductions("Hi, I'm Yusuf, delighted to be on the show.")) == [
        ("Yusuf", "guest")
    ]


def test_a_self_introduction_that_introduces_a_guest_is_the_host():
    text = "I'm Marta Quinlan. My guest today is Idris Fenwick."
    assert ("Marta Quinlan", HOST) in set(self_introductions(text))


def test_introducing_yourself_while_thanking_the_host_makes_you_the_guest():
    text = "Hi, I'm Yusuf Demir, thanks for having me, Marta."
    assert roles(text) == {"Marta": HOST}
    assert list(self_introductions(text)) == [("Yusuf Demir", GUEST)]


def test_self_introduction_as_a_guest():
    text = "Hi, I'm Yusuf Demir, delighted to be on the show."
    assert roles(text) == {"Yusuf Demir": GUEST}


def test_a_day_is_never_introduced_as_a_person():
    assert roles("It's Monday here, so forgive the coffee.") == {}
