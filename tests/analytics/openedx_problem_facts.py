"""What the Open edX problem fixtures (tracking-log events and their xAPI statements, the same
learner facts from event-routing-backends) say: shared by the tests of both input paths."""

MCQ = "block-v1:edX+DemoX+Demo_Course+type@problem+block@a0effb954cca4759994f1ac9e9434bf4"
CHECKBOX_QUESTION = "Add the question text, or prompt, here. This text is required."
OCEAN, INSTRUMENTS, FURNITURE = (
    "What color is the open ocean on a sunny day?",
    "Which of the following are musical instruments?",
    "Which piece of furniture is built for sitting?",
)
FRENCH = (
    "[Un emprunt à l'anglais ou anglicisme|Un type de demande|Quelque chose de rapide, d'instantané|"
    'Une question structuré et précise|Un type de poisson|I"M SWP\' "SDF"]'
)
