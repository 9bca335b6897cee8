"""Themes, people and key phrases: the stage that writes them (stage: theme_mentions,
people, episode_people, keyphrases, analyses), the engine that finds them (engine), the
researcher's codebook (codebook), the trained classifier (classifier, training),
meaning-based matching (semantic), and people with their roles (people, roles).
"""
