"""What the demo's invented customers write: requests by intent, problem descriptions, feedback by theme.

Written for the demo history (``demo_history``), never used for training. The feedback comes in
themes a support lead would recognise (sync, sign-in, price, templates...), several wordings each,
so the feedback-themes pipeline has real clusters to find; none of it names a person, an email or a
number, so the redacted text is the text.
"""

from __future__ import annotations

REQUESTS: dict[str, tuple[str, ...]] = {
    "greet": ("hi", "hello", "hey there", "good morning", "hi lumen", "hello, quick question"),
    "ask_renewal": (
        "when does my subscription renew?",
        "when is my next payment",
        "how much will my renewal cost",
        "when do you charge me again",
        "what's my renewal date",
    ),
    "ask_plan": ("which plan am i on", "what plan do i have", "what's included in my plan", "am i on pro?"),
    "ask_orders": ("show me my orders", "what did i order recently", "my recent orders please"),
    "order_status": ("where is my order", "has my order shipped yet", "where's my parcel", "order status please"),
    "ask_loyalty": ("how many points do i have", "what's my loyalty balance", "can i see my reward points"),
    "human_handoff": (
        "i'd like to talk to a person",
        "can i speak to someone from support",
        "human please",
        "let me talk to an agent",
    ),
    "report_problem": ("something isn't working", "i have a problem with the app", "the app is broken for me"),
    "bot_challenge": ("am i talking to a bot?", "are you a real person"),
    "help": ("what can you do", "help", "what can you help me with"),
    "out_of_scope": ("what's the weather tomorrow", "can you book me a taxi", "tell me a joke"),
    "nlu_fallback": ("blue fish window?", "asdf", "the thing from before with the stuff"),
    "thanks": ("thanks!", "thank you", "great, thanks", "perfect, thank you", "cheers"),
    "goodbye": ("bye", "that's all, bye", "see you"),
    "give_feedback": ("i have a suggestion", "can i give you some feedback", "i'd like to leave feedback"),
    "ask_referral_code": ("how do i refer a friend", "what's my referral code", "can i invite a friend"),
    "report_referral": ("my friend referred me, code {code}", "i was referred with {code}"),
    "renew_now": ("ok renew it now", "renew it please"),
    "deny": ("no thanks", "not now", "no"),
    "affirm": ("yes please", "yes", "sure"),
}
"""User messages by the intent the classifier gave them (with a plausible confidence, ``demo_history``)."""

PROBLEMS = (
    "sync between my phone and laptop stopped working",
    "the app logs me out every time i close it",
    "notes i wrote offline disappeared after syncing",
    "reminders fire an hour late since the clocks changed",
    "the calendar link shows meetings twice",
    "search does not find notes older than a month",
    "the app crashes when i open a big notebook",
    "i can't attach pdfs to a note anymore",
)

THEMES: dict[str, tuple[str, ...]] = {
    "sync": (
        "Sync between my phone and laptop is slow, sometimes a note takes minutes to show up.",
        "Syncing fails when I'm on hotel wifi and I end up with two versions of the same note.",
        "Please make sync faster, I keep refreshing to see my latest notes on the tablet.",
        "Notes don't sync reliably between devices, that's my one big complaint.",
        "Sync conflicts are confusing, I never know which copy of the note is the right one.",
        "The sync gets stuck on my work laptop until I restart the app.",
    ),
    "logout": (
        "The app logs me out far too often and I have to sign in again every few days.",
        "I keep getting signed out on my phone, very annoying.",
        "Why do I have to log in again every time I update the app?",
        "Getting logged out in the middle of writing a note is frustrating.",
        "Staying signed in would be nice, the app forgets me all the time.",
    ),
    "price": (
        "It's a bit expensive for how little of it I use.",
        "The price went up and I'm not sure Pro is worth it for me anymore.",
        "A cheaper plan with just notes and sync would suit me better.",
        "Too pricey compared to other note apps, honestly.",
        "I'd stay longer if the yearly plan had a bigger discount.",
    ),
    "templates": (
        "I love the meeting templates, they save me so much time every week.",
        "Templates are brilliant, my team uses the agenda one for every call.",
        "The new templates for project notes are great, please add more of them.",
        "Meeting note templates are my favourite feature by far.",
        "Being able to start from a template makes my notes so much tidier.",
    ),
    "calendar": (
        "Please support Outlook calendars too, not just Google.",
        "The calendar integration should create the notes page a day before the meeting.",
        "I'd like recurring meetings to share one notes page in the calendar view.",
        "Calendar link is handy but it misses meetings I was invited to later.",
        "Would be great to see my calendar and notes side by side.",
    ),
    "offline": (
        "Offline mode saved me on a long flight, thank you!",
        "I wish offline mode worked for shared notebooks as well.",
        "Offline editing is great, but it should warn me before a conflict.",
        "Please let me choose which notebooks are kept offline, my phone is full.",
    ),
    "search": (
        "Search should find words inside attachments and pdfs.",
        "Finding an old note is hard, the search results are in a strange order.",
        "I'd love filters in search, by date or by notebook.",
        "Search misses notes when I make a small typo.",
    ),
    "support": (
        "The support person who helped me was quick and friendly, thanks a lot.",
        "Great help from your team today, problem solved in minutes.",
        "Your assistant answered my question straight away, very handy.",
        "Support was patient and explained everything clearly.",
    ),
}
"""Open feedback by theme; the positive themes come from satisfied customers, the others from the rest."""

POSITIVE_THEMES = ("templates", "offline", "support")
NEGATIVE_THEMES = ("sync", "logout", "price", "calendar", "search")
