"""The network: one HTTP client configuration with a deadline per exchange and the address
guard on every connection (client), and which URLs and local paths may be fetched at all
(urls).
"""
