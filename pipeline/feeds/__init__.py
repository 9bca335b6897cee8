"""Feeds in, episodes out: subscriptions and polling (subscriptions: the feeds table), feed
bytes parsed into Episode records (parse), OPML lists (opml), and enclosure downloads to
data/audio (download: episodes.audio_path, the download state).
"""
