"""GIF providers (Giphy, Tenor) behind one interface, and the SSRF-safe fetcher of their files."""
